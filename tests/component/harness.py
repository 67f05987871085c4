"""The engine's side of a component provider: start the plugin, serve a mock resource monitor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import (
    engine_pb2_grpc,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from kmsguard.child_process import stop as stop_child
from kmsguard.preview.collect import RecordingMonitor
from kmsguard.preview.pack_dir import REPO

PLUGIN_DIR = REPO / "provider"


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """The project's mock monitor (preview.collect.RecordingMonitor) over gRPC."""

    def __init__(self, monitor: RecordingMonitor) -> None:
        self.monitor = monitor

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        answer = self.monitor.SupportsFeature(request)
        return resource_pb2.SupportsFeatureResponse(hasSupport=bool(answer.hasSupport))

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return self.monitor.GetDeploymentInfo(request)

    def Invoke(self, request: Any, context: Any) -> Any:
        return self.monitor.Invoke(request)

    def RegisterResource(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        self.monitor.RegisterResourceOutputs(request)
        return empty_pb2.Empty()

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterPackage(request)

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


class MonitorServer:
    def __init__(self, monitor: RecordingMonitor) -> None:
        self.monitor = monitor
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_Monitor(monitor), self._server)
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._server.start()

    def close(self) -> None:
        self._server.stop(0)


class ProviderProcess:
    """`python provider/ <engine address>`, as the Python language host runs the plugin."""

    def __init__(self, plugin_dir: Path = PLUGIN_DIR, timeout: float = 60.0) -> None:
        self.engine = _Engine()
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._engine_server)
        port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        env = dict(os.environ)
        # In this repository kmsguard comes from the checkout (provider/requirements.txt
        # installs it into the plugin's own virtualenv elsewhere).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, str(plugin_dir), f"127.0.0.1:{port}"],
            cwd=plugin_dir.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        text = line[0].decode().strip() if line else ""
        if not text.isdigit():
            self.close()
            raise RuntimeError(f"provider did not start: {text!r}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{text}")
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def stderr(self) -> str:
        return self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        stop_child(self.proc)
        self._engine_server.stop(0)

    def __enter__(self) -> ProviderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
