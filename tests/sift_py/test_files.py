"""File attachments through sift_py's own FileAttachmentService: upload, list, download (bytes
compared) and delete on a run, an annotation and an annotation log; deleting an annotation takes
its files along; the organization's limit and a changed file on disk are refused clearly; a
restart sweeps what no catalog row names."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import datetime, timezone

import grpc
import pytest
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from sift.annotation_logs.v1.annotation_logs_pb2 import (
    ANNOTATION_COMMENT_BODY_ELEMENT_TYPE_TEXT,
    ANNOTATION_LOG_KIND_COMMENT,
    AnnotationCommentBodyElement,
    AnnotationLogCommentProperties,
    CreateAnnotationLogRequest,
    DeleteAnnotationLogRequest,
    ListAnnotationLogsRequest,
)
from sift.annotation_logs.v1.annotation_logs_pb2_grpc import AnnotationLogServiceStub
from sift.annotations.v1.annotations_pb2 import CreateAnnotationRequest, DeleteAnnotationRequest
from sift.annotations.v1.annotations_pb2_grpc import AnnotationServiceStub
from sift.remote_files.v1.remote_files_pb2 import (
    ENTITY_TYPE_ANNOTATION,
    ENTITY_TYPE_RUN,
    REMOTE_FILE_TYPE_IMAGE,
    GetRemoteFileDownloadUrlRequest,
    UpdateRemoteFileRequest,
)
from sift.remote_files.v1.remote_files_pb2_grpc import RemoteFileServiceStub
from sift.runs.v2.runs_pb2 import CreateRunRequest
from sift.runs.v2.runs_pb2_grpc import RunServiceStub
from google.protobuf.field_mask_pb2 import FieldMask
from sift_py.file_attachment.entity import Entity, EntityType
from sift_py.file_attachment.metadata import ImageMetadata, VideoMetadata
from sift_py.file_attachment.service import FileAttachmentService
from sift_py.grpc.transport import use_sift_channel

from support import channel_config


def rest_config(sextant):
    return {"uri": sextant.uri, "apikey": sextant.token, "use_ssl": False}


def write(path, size: int, seed: int):
    """A file of `size` deterministic bytes that do not repeat in short cycles."""
    out = bytearray()
    block = seed.to_bytes(8, "little")
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    path.write_bytes(bytes(out[:size]))
    return path


def ts(seconds: int) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(datetime.fromtimestamp(seconds, tz=timezone.utc))
    return t


def blob_files(data_dir):
    return sorted(p.name for p in (data_dir / "files").rglob("*") if p.is_file())


def test_attachments_on_a_run_an_annotation_and_its_log(sextant, tmp_path):
    with use_sift_channel(channel_config(sextant)) as channel:
        files = FileAttachmentService(channel, rest_config(sextant))
        run = RunServiceStub(channel).CreateRun(CreateRunRequest(name="hot fire 12")).run
        annotation = AnnotationServiceStub(channel).CreateAnnotation(
            CreateAnnotationRequest(
                name="chamber pressure dip",
                start_time=ts(1_720_000_000),
                end_time=ts(1_720_000_010),
                run_id=run.run_id,
            )
        ).annotation
        run_entity = Entity(run.run_id, EntityType.RUN)
        annotation_entity = Entity(annotation.annotation_id, EntityType.ANNOTATION)

        # Several chunks' worth, so that the upload and the download stream.
        plot = write(tmp_path / "plot.png", 3 * 1024 * 1024 + 17, seed=1)
        video = write(tmp_path / "camera.mp4", 700_001, seed=2)
        log_text = write(tmp_path / "console.txt", 10, seed=3)
        empty = tmp_path / "empty.csv"
        empty.write_bytes(b"")

        uploaded = files.upload_attachment(
            plot, run_entity, ImageMetadata(width=1920, height=1080), description="pressure plot"
        )
        assert uploaded.file_name == "plot.png"
        assert uploaded.file_mime_type == "image/png"
        assert uploaded.file_size == plot.stat().st_size
        assert uploaded.entity_type == ENTITY_TYPE_RUN
        assert uploaded.remote_file_type == REMOTE_FILE_TYPE_IMAGE
        assert uploaded.description == "pressure plot"
        assert (uploaded.image_metadata.width, uploaded.image_metadata.height) == (1920, 1080)
        files.upload_attachment(log_text, run_entity, None)
        files.upload_attachment(empty, run_entity, None)
        on_annotation = files.upload_attachment(
            video,
            annotation_entity,
            VideoMetadata(
                width=640,
                height=480,
                duration_seconds=2.5,
                timestamp=datetime(2024, 7, 4, 18, 9, 8, tzinfo=timezone.utc),
            ),
        )
        assert on_annotation.entity_type == ENTITY_TYPE_ANNOTATION
        assert on_annotation.video_metadata.duration_seconds == 2.5
        assert on_annotation.video_metadata.timestamp.seconds == 1_720_116_548

        listed = files.retrieve_attachments(run_entity)
        assert sorted(f.file_name for f in listed) == ["console.txt", "empty.csv", "plot.png"]
        assert [f.file_name for f in files.retrieve_attachments(annotation_entity)] == ["camera.mp4"]

        # Downloads are the uploaded bytes, by object or by id. (sift_py takes `out` only as a
        # `str`: given a `Path`, it writes to the file's own name in the working directory.)
        for f in listed + [on_annotation]:
            out = files.download_attachment(f, str(tmp_path / f"down-{f.file_name}"))
            assert out == tmp_path / f"down-{f.file_name}"
            assert out.read_bytes() == (tmp_path / f.file_name).read_bytes(), f.file_name
        out = files.download_attachment(uploaded.remote_file_id, str(tmp_path / "by-id.png"))
        assert out.read_bytes() == plot.read_bytes()

        # The description can change.
        stub = RemoteFileServiceStub(channel)
        changed = stub.UpdateRemoteFile(
            UpdateRemoteFileRequest(
                remote_file=type(uploaded)(remote_file_id=uploaded.remote_file_id, description="v2"),
                update_mask=FieldMask(paths=["description"]),
            )
        ).remote_file
        assert changed.description == "v2"

        # The URL carries its own signature: no key is needed, and a changed one is refused.
        url = stub.GetRemoteFileDownloadUrl(
            GetRemoteFileDownloadUrlRequest(remote_file_id=uploaded.remote_file_id)
        ).download_url
        assert url.startswith(f"http://{sextant.uri}/api/v0/remote-files/")
        got = requests.get(url)
        assert got.status_code == 200 and got.content == plot.read_bytes()
        assert got.headers["x-sextant-sha256"] == hashlib.sha256(plot.read_bytes()).hexdigest()
        forged = requests.get(url.replace(uploaded.remote_file_id, on_annotation.remote_file_id))
        assert forged.status_code == 403
        assert "signature does not match" in forged.json()["error"]

        # An annotation log entry takes files too; deleting it deletes them.
        logs = AnnotationLogServiceStub(channel)
        comment = logs.CreateAnnotationLog(
            CreateAnnotationLogRequest(
                annotation_id=annotation.annotation_id,
                kind=ANNOTATION_LOG_KIND_COMMENT,
                comment=AnnotationLogCommentProperties(
                    body=[
                        AnnotationCommentBodyElement(
                            type=ANNOTATION_COMMENT_BODY_ELEMENT_TYPE_TEXT, text="see the video"
                        )
                    ]
                ),
            )
        ).annotation_log
        assert comment.comment.body[0].text == "see the video"
        log_entity = Entity(comment.annotation_log_id, EntityType.ANNOTATION_LOG)
        files.upload_attachment(log_text, log_entity, None)
        assert len(files.retrieve_attachments(log_entity)) == 1
        listed_logs = logs.ListAnnotationLogs(
            ListAnnotationLogsRequest(annotation_id=annotation.annotation_id)
        ).annotation_logs
        assert [l.annotation_log_id for l in listed_logs] == [comment.annotation_log_id]
        logs.DeleteAnnotationLog(
            DeleteAnnotationLogRequest(
                annotation_id=annotation.annotation_id, annotation_log_id=comment.annotation_log_id
            )
        )
        assert files.retrieve_attachments(log_entity) == []

        # Deleting files frees their bytes on disk.
        assert len(blob_files(sextant.data_dir)) == 4
        files.delete_file_attachments(*[f for f in listed if f.file_name != "plot.png"])
        assert [f.file_name for f in files.retrieve_attachments(run_entity)] == ["plot.png"]
        assert blob_files(sextant.data_dir) == sorted(
            [uploaded.remote_file_id, on_annotation.remote_file_id]
        )
        # Deleting the annotation takes its attachment along.
        AnnotationServiceStub(channel).DeleteAnnotation(
            DeleteAnnotationRequest(annotation_id=annotation.annotation_id)
        )
        assert blob_files(sextant.data_dir) == [uploaded.remote_file_id]
        with pytest.raises(grpc.RpcError) as err:
            files.download_attachment(on_annotation.remote_file_id, str(tmp_path / "gone"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_refusals_name_what_is_wrong(sextant_process, tmp_path):
    sextant = sextant_process.info
    with use_sift_channel(channel_config(sextant)) as channel:
        files = FileAttachmentService(channel, rest_config(sextant))
        small = write(tmp_path / "notes.txt", 100, seed=4)

        # Another organization sees none of this one's files.
        run = RunServiceStub(channel).CreateRun(CreateRunRequest(name="private")).run
        mine = files.upload_attachment(small, Entity(run.run_id, EntityType.RUN), None)
        other_key = sextant_process.create_key("admin", org="globex")
        other = sextant._replace(token=other_key)
        with use_sift_channel(channel_config(other)) as theirs:
            other_files = FileAttachmentService(theirs, rest_config(other))
            assert other_files.retrieve_attachments(Entity(run.run_id, EntityType.RUN)) == []
            with pytest.raises(grpc.RpcError) as err:
                RemoteFileServiceStub(theirs).GetRemoteFileDownloadUrl(
                    GetRemoteFileDownloadUrlRequest(remote_file_id=mine.remote_file_id)
                )
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(Exception) as err:
                other_files.upload_attachment(small, Entity(run.run_id, EntityType.RUN), None)
            assert "404" in str(err.value)
        with pytest.raises(Exception) as err:
            files.upload_attachment(small, Entity("no-such-run", EntityType.RUN), None)
        assert "404" in str(err.value)

        # Sextant's own message, as a client that reads the body sees it.
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {sextant.token}"
        url = f"http://{sextant.uri}/api/v0/remote-files/upload"
        answer = session.post(
            url,
            files={"entityId": (None, "r"), "entityType": (None, "assets"), "file": ("a.txt", b"x")},
        )
        assert answer.status_code == 400
        assert 'entityType "assets" is not one Sextant attaches files to' in answer.json()["error"]
        answer = session.post(url, files={"entityId": (None, "r"), "entityType": (None, "runs")})
        assert answer.status_code == 400 and "no `file` field" in answer.json()["error"]
        answer = requests.post(url, files={"file": ("a.txt", b"x")})
        assert answer.status_code == 401


def test_limits_corruption_and_the_sweep(sextant_process, tmp_path):
    # An organization may store 1 MiB of files, each at most 600 KiB.
    sextant_process.stop()
    sextant_process.extra_args = ["--org-files-max-bytes", "1MiB", "--file-max-bytes", "600KiB"]
    sextant = sextant_process.start()
    with use_sift_channel(channel_config(sextant)) as channel:
        files = FileAttachmentService(channel, rest_config(sextant))
        run = RunServiceStub(channel).CreateRun(CreateRunRequest(name="limits")).run
        entity = Entity(run.run_id, EntityType.RUN)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {sextant.token}"
        url = f"http://{sextant.uri}/api/v0/remote-files/upload"

        def post(name, size):
            return session.post(
                url,
                files={
                    "entityId": (None, run.run_id),
                    "entityType": (None, "runs"),
                    "file": (name, os.urandom(size), "application/octet-stream"),
                },
            )

        too_big = post("big.bin", 600 * 1024 + 1)
        assert too_big.status_code == 413
        assert "the largest file is 614400 bytes" in too_big.json()["error"]
        assert post("a.bin", 600 * 1024).status_code == 200
        over = post("b.bin", 500 * 1024)
        assert over.status_code == 413
        assert "of its 1048576 bytes of files left" in over.json()["error"]
        assert [f.file_name for f in files.retrieve_attachments(entity)] == ["a.bin"]
        assert len(blob_files(sextant.data_dir)) == 1

        # A file changed on disk is not served as if it were the upload.
        stored = files.retrieve_attachments(entity)[0]
        path = sextant.data_dir / "files" / stored.organization_id / stored.remote_file_id
        data = bytearray(path.read_bytes())
        data[1000] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(requests.exceptions.RequestException):
            files.download_attachment(stored, str(tmp_path / "corrupt.bin"))

    # A file no row names (a crash between writing and recording) and an unfinished upload are
    # removed at the next start.
    sextant_process.stop()
    orphan = path.parent / "0000-orphan"
    orphan.write_bytes(b"orphan")
    (sextant.data_dir / "files" / "tmp" / "x.partial").write_bytes(b"partial")
    sextant = sextant_process.start()
    # The listening line comes as the port is bound; an answer means the server has opened.
    assert requests.get(f"http://{sextant.uri}/health").status_code == 200
    assert blob_files(sextant.data_dir) == [stored.remote_file_id]
    assert "removed files no catalog row names" in sextant_process.tail(200)
