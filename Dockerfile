# The platform image: the services, workers and db-bootstrap on AWS (infra/compute.yaml's tasks
# give each its command) and the simulators in compose.yaml. LocalStack has its own image.
FROM python:3.11-slim AS platform
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

# The image for AWS (the default target): the tasks connect to Aurora with sslmode=verify-full
# against Amazon RDS's CA bundle (infra/compute.yaml), fetched when the image is built.
# compose.yaml builds `platform` only, which needs no network beyond the package index.
FROM platform AS aws
USER root
ADD https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
# ADD leaves a downloaded file readable by root only.
RUN chmod 644 /etc/ssl/certs/rds-global-bundle.pem
USER nobody
