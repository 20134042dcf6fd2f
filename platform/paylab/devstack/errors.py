"""The one error type the CLI turns into a clear line and a non-zero exit."""


class StackError(Exception):
    """Something about the local stack is wrong in a way the user can act on."""
