"""Sleeps for event["seconds"]: longer than its timeout, it must be cut off."""

import time


def handler(event, context):
    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"]}
