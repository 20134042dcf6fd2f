"""Lambda handlers, one module each. They depend on the standard library and boto3 only.

The deployment artifact holds `paylab/__init__.py` and this package, nothing else, so the same
zip runs on AWS's Python runtime and on LocalStack's host executor.
"""
