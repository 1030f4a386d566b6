"""The payments service: adding money through a payment gateway, and withdrawals to a bank."""
