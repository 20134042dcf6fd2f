"""secretsmanager_fixes.py: registering a rotation schedule without rotating answers 200."""

import uuid

from conftest import FunctionFactory, LocalStack, client

ROTATION = "def handler(event, context):\n    return None\n"


def test_a_schedule_registered_without_rotating_answers_and_takes_effect(
    localstack: LocalStack, make_function: FunctionFactory
) -> None:
    sm = client("secretsmanager")
    function = make_function({"app.py": ROTATION})
    function_arn = client("lambda").get_function(FunctionName=function)["Configuration"][
        "FunctionArn"
    ]
    secret = sm.create_secret(Name=f"t-{uuid.uuid4().hex[:8]}", SecretString="first")
    answer = sm.rotate_secret(
        SecretId=secret["ARN"],
        RotationLambdaARN=function_arn,
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    assert (answer["ARN"], answer["Name"]) == (secret["ARN"], secret["Name"])
    described = sm.describe_secret(SecretId=secret["ARN"])
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == function_arn
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    # Registering is not rotating: one version, still the first value.
    assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
    assert sm.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "first"
    assert "new_version_id" not in localstack.log_tail(10**6)
