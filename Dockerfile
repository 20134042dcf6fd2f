# The platform image: services and simulators (compose.yaml). LocalStack has its own image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY simulators ./simulators
RUN pip install --no-cache-dir .
USER nobody
