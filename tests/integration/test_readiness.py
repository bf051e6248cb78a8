"""/readyz is 503 while the LLM or the broker is down and 200 when both are up."""

import pytest
from kafka import KafkaProducer

from serve.daemons.kafka import KafkaBroker
from tests.integration.conftest import free_port, running_api, send_post, wait_for

pytestmark = pytest.mark.slow


def test_readyz_follows_broker_and_llm(base_settings, llm_server, tmp_path):
    # A broker of this test's own, so stopping it does not disturb other tests.
    settings = base_settings.model_copy(
        update={
            "cache_dir": tmp_path,
            "kafka": base_settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"}),
            "broker": base_settings.broker.model_copy(
                update={"controller_port": free_port(), "data_dir": tmp_path / "kafka"}
            ),
        }
    )
    own_broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
    own_broker.start()
    try:
        with running_api(settings) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
            send_post(
                producer,
                settings.kafka.topic,
                {
                    "id": "ready-1",
                    "text": "The river flood closed the bridge",
                    "author": "a",
                    "created_at": "2013-06-21T10:00:00Z",
                },
            )
            producer.close()
            own_broker.stop()
            down = client.get("/readyz")
            assert down.status_code == 503 and not down.json()["checks"]["broker"]["ok"]
            assert down.json()["checks"]["llm"]["ok"]
            own_broker.start()
            wait_for(lambda: client.get("/readyz").status_code == 200, 30, "ready again")

        # Another group, so the two apps' committed offsets (lag reports) stay apart.
        dead_llm = settings.model_copy(
            update={
                "llm": settings.llm.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/v1"}),
                "kafka": settings.kafka.model_copy(update={"group_id": "readiness-second-app"}),
            }
        )
        with running_api(dead_llm) as client:
            down = client.get("/readyz")
            assert down.status_code == 503
            checks = down.json()["checks"]
            assert "unreachable" in checks["llm"]["detail"] and not checks["llm"]["ok"]
            assert checks["broker"]["ok"]
            # The post the first app indexed is back from the topic, so the LLM must be called.
            wait_for(lambda: client.get("/v1/posts/ready-1").status_code == 200, 30, "the post")
            asked = client.post("/v1/ask", json={"question": "What about the river flood?"})
            assert asked.status_code == 503
            assert asked.json()["error"]["type"] == "llm_unavailable"
    finally:
        own_broker.stop()
