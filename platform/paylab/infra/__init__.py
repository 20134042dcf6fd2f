"""The CloudFormation template for Paylab's AWS resources, and a loader for it."""
