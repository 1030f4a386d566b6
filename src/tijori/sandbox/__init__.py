"""A Razorpay-compatible payment gateway for tests and local runs (docs/sandbox.md).

It is a test tool, not a Tijori service: it imports no service package, only
``tijori.common``'s configuration and logging.
"""
