"""The payments service: money in through a payment gateway, and out to bank accounts."""
