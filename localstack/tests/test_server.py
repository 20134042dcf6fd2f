"""server.py: GATEWAY_SERVER=paylab_twisted listens on loopback only and keeps connections."""

import http.client
from pathlib import Path

import psutil

from conftest import PORT, client, running_localstack


def test_twisted_gateway_binds_loopback_and_keeps_connections_alive(tmp_path: Path) -> None:
    with running_localstack(tmp_path, GATEWAY_SERVER="paylab_twisted") as localstack:
        family = [psutil.Process(localstack.pid), *psutil.Process(localstack.pid).children()]
        listening = {
            conn.laddr
            for proc in family
            for conn in proc.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == PORT
        }
        assert {addr.ip for addr in listening} == {"127.0.0.1"}

        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        for _ in range(2):
            connection.request("GET", "/_localstack/health")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "").lower() != "close"
        connection.close()

        queue = client("sqs").create_queue(QueueName="t-twisted")["QueueUrl"]
        client("sqs").send_message(QueueUrl=queue, MessageBody="hi")
        assert client("sqs").receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "hi"

    # Stopped (SIGTERM) on leaving the block: a clean shutdown logs no traceback (the reactor
    # once stopped the already stopped worker pool again: twisted's AlreadyQuit).
    log = localstack.log_path.read_text(errors="replace")
    assert "Stopping all services" in log
    assert "Traceback" not in log, log[-3000:]
