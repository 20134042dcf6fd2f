"""Returns its event, its function name and one environment variable."""

import os


def handler(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "paylab_test_value": os.environ.get("PAYLAB_TEST_VALUE"),
    }
