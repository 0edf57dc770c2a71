"""What the deploy tests share: the region they deploy to and moto's account."""

from __future__ import annotations

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
