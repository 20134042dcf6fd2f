"""The notification service: payment, dispersion and summary messages by email (SES) and SMS."""
