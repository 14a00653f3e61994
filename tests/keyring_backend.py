"""A keyring for tests: the secrets in a JSON file named by MEA_CULPA_TEST_KEYRING, chosen
through keyring's own setting (PYTHON_KEYRING_BACKEND=keyring_backend.FileKeyring), so a
child mea-culpa stores and reads real keyring entries without a desktop's keyring."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["MEA_CULPA_TEST_KEYRING"])

    def _read(self) -> dict[str, str]:
        return json.loads(self._path.read_text(encoding="utf-8")) if self._path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}/{username}"] = password
        self._path.write_text(json.dumps(data), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not set")
        self._path.write_text(json.dumps(data), encoding="utf-8")
