# The platform image: the services, workers and db-bootstrap on AWS (infra/compute.yaml's tasks
# give each its command) and the simulators in compose.yaml. LocalStack has its own image.
FROM python:3.11-slim
# Logs reach CloudWatch (awslogs) line by line, not when a buffer fills or never on a crash.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY platform ./platform
# platform/paylab/event_contracts links here: the wheel takes the event schemas through it.
COPY contracts/events ./contracts/events
COPY simulators ./simulators
RUN pip install --no-cache-dir -c constraints.txt .
USER nobody
