"""Files: upload (multipart), list, get, delete, content; and the exact multipart parser uploads need."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

from .handler import BaseHandler
from .state import RecordedRequest


class FileRoutes(BaseHandler):
    """``/api/v1/files``: upload, list, get, delete, content (generated images are stored there too)."""

    def _files(self, rec: RecordedRequest, parts: list[str], method: str) -> None:
        st = self.fake.state
        if len(parts) == 1 and method == "POST":
            file_part = next((p for p in rec.parts if p["name"] == "file"), None)
            if file_part is None:
                self._send_api_error(400, "file is required")
                return
            purpose_part = next((p for p in rec.parts if p["name"] == "purpose"), None)
            purpose = purpose_part["data"].decode() if purpose_part else "general"
            fid = str(uuid.uuid4())
            meta = {
                "id": fid, "object": "file", "bytes": len(file_part["data"]), "created_at": int(time.time()),
                "filename": file_part.get("filename") or "file", "purpose": purpose, "access_policy": "private",
            }
            with st.lock:
                st.files[fid] = {"meta": meta, "data": file_part["data"], "mime": file_part.get("content_type") or "application/octet-stream"}
            self._send_json(200, meta)
            return
        if len(parts) == 1 and method == "GET":
            with st.lock:
                metas = [f["meta"] for f in st.files.values()]
            self._send_json(200, {"data": metas})
            return
        fid = unquote(parts[1]) if len(parts) > 1 else ""
        with st.lock:
            entry = st.files.get(fid)
        if entry is None:
            self._send_api_error(404, "File not found")
            return
        if len(parts) == 2 and method == "GET":
            self._send_json(200, entry["meta"])
        elif len(parts) == 3 and parts[2] == "delete" and method == "POST":
            with st.lock:
                st.files.pop(fid, None)
            self._send_json(200, {"id": fid, "deleted": True, "object": "file"})
        elif len(parts) == 3 and parts[2] == "content" and method == "GET":
            self._send_bytes(200, entry["data"], entry["mime"])
        else:
            self._send_api_error(404, "Not found")


def _parse_multipart(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Parse multipart/form-data exactly (byte for byte), unlike the email package."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return []
    delimiter = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disp)
        filename = re.search(r'\bfilename="([^"]*)"', disp)
        parts.append({
            "name": name.group(1) if name else None,
            "filename": filename.group(1) if filename else None,
            "content_type": headers.get("content-type"),
            "data": data,
        })
    return parts
