"""A stand-in for an OpenAI-compatible chat-completions server (no hosted model is reachable
in tests): scripted answers per model, tool calls included, and a slow mode.

    with openai_stub(PORT) as stub:
        stub.reply("primary", tool_calls=[("delete_dataset", {"dataset": "customers"})])
        stub.reply("primary", content="Done.")
        stub.delay["primary"] = 5.0   # answers only after 5 s
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request


class OpenAIStub:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.scripts: defaultdict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.delay: dict[str, float] = {}
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._ids = itertools.count(1)
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)
        # Ray Serve LLM's OpenAI app under the `llm` application's route prefix.
        self.app.post("/llm/v1/chat/completions")(self._complete)

    def reply(
        self,
        model: str,
        *,
        content: str | None = None,
        tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        """Queue the next answer for ``model`` (an empty queue answers "Done.")."""
        self.scripts[model].append({"content": content, "tool_calls": tool_calls})

    def reset(self) -> None:
        self.scripts.clear()
        self.delay.clear()
        self.requests.clear()
        self.paths.clear()

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["model"] == model]

    async def _complete(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.requests.append(body)
        self.paths.append(request.url.path)
        model = body["model"]
        if self.delay.get(model):
            await asyncio.sleep(self.delay[model])
        script = self.scripts[model]
        answer = script.popleft() if script else {"content": "Done.", "tool_calls": None}
        message: dict[str, Any] = {"role": "assistant", "content": answer["content"]}
        if answer["tool_calls"]:
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for name, arguments in answer["tool_calls"]
            ]
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if answer["tool_calls"] else "stop",
                }
            ],
        }


@contextlib.contextmanager
def openai_stub(port: int) -> Iterator[OpenAIStub]:
    stub = OpenAIStub(port)
    server = uvicorn.Server(
        uvicorn.Config(stub.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the stub server did not start"
        time.sleep(0.02)
    try:
        yield stub
    finally:
        server.should_exit = True
        thread.join(10)
