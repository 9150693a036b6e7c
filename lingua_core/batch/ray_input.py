"""A batch job's corpus as a Ray Dataset of records, with the local reader's ids and errors.

Each file is read whole by Ray's ``read_binary_files`` (local paths, ``s3://`` and any other
filesystem pyarrow knows) and cut into records by the local reader's own functions, so that
a record gets the same id (line number, ``file:line``, the id field, the file's path) and
the same error on Ray as locally. Ray's ``read_json`` cannot give that: one line that is not
JSON or not UTF-8 fails its whole file there, and line numbers are lost.

A record's position is its file's place in the sorted listing, then its own place in the
file: the final merge puts the rows in the local path's order with it. Reading a file is one
task, which is cheap next to compressing its records; they are spread over the actors after.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lingua_core.batch.output import POSITION
from lingua_core.batch.records import (
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_SUFFIXES,
    Fields,
    Record,
    data_file_records,
    data_files,
    no_corpus_files,
    not_a_corpus_file,
    text_files,
    text_record,
)
from lingua_core.errors import InputError

POSITION_SPAN = 2**32  # positions per file: a file's records are numbered within its span
RECORD_COLUMNS = ("id", "text", "question", "instruction", "error")


def _record_schema() -> Any:
    import pyarrow as pa

    return pa.schema([*((column, pa.string()) for column in RECORD_COLUMNS), (POSITION, pa.int64())])


@dataclass(frozen=True)
class CorpusFile:
    path: str  # as the filesystem names it, and Ray's reader gives it back
    key: str  # "" (the one data file), "relative/path.jsonl:" (a folder's), or a text file's id
    text: bool  # a text file: one record


@dataclass(frozen=True)
class Corpus:
    files: list[CorpusFile]
    filesystem: Any  # a pyarrow filesystem for a URI; None for a local path (Ray's default)

    @property
    def local(self) -> bool:
        return self.filesystem is None


def is_uri(source: str) -> bool:
    return "://" in source


def list_corpus(source: str) -> Corpus:
    """The files of ``source`` in the local reader's order, with the same errors."""
    if not is_uri(source):
        return Corpus(_local_files(Path(source)), None)
    from pyarrow import fs

    try:
        filesystem, root = fs.FileSystem.from_uri(source)
        info = filesystem.get_file_info(root)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {source}: {exc}") from None
    if info.type == fs.FileType.File:
        if PurePosixPath(root).suffix.lower() not in JSON_SUFFIXES + PARQUET_SUFFIXES:
            raise not_a_corpus_file(source)
        return Corpus([CorpusFile(root, "", text=False)], filesystem)
    if info.type != fs.FileType.Directory:
        raise InputError(f"No such file or folder: {source}")
    found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    paths = sorted(PurePosixPath(item.path) for item in found if item.type == fs.FileType.File)
    return Corpus(_folder_files(PurePosixPath(root), paths, source), filesystem)


def _local_files(source: Path) -> list[CorpusFile]:
    if source.is_file():
        if source.suffix.lower() not in JSON_SUFFIXES + PARQUET_SUFFIXES:
            raise not_a_corpus_file(source)
        return [CorpusFile(str(source.resolve()), "", text=False)]
    if not source.is_dir():
        raise InputError(f"No such file or folder: {source}")
    folder = source.resolve()
    data = data_files(folder)
    if data:
        return [CorpusFile(str(path), f"{path.relative_to(folder).as_posix()}:", text=False) for path in data]
    texts = text_files(folder)
    if not texts:
        raise no_corpus_files(source)
    return [CorpusFile(str(path), path.relative_to(folder).as_posix(), text=True) for path in texts]


def _folder_files(root: PurePosixPath, paths: list[PurePosixPath], source: str) -> list[CorpusFile]:
    data = [path for path in paths if path.suffix.lower() in JSON_SUFFIXES + PARQUET_SUFFIXES]
    if data:
        return [CorpusFile(str(path), f"{path.relative_to(root).as_posix()}:", text=False) for path in data]
    texts = [path for path in paths if path.suffix.lower() in TEXT_SUFFIXES]
    if not texts:
        raise no_corpus_files(source)
    return [CorpusFile(str(path), path.relative_to(root).as_posix(), text=True) for path in texts]


def file_rows(file: CorpusFile, index: int, data: bytes, fields: Fields) -> Iterator[dict[str, Any]]:
    """The record rows of one file's bytes, positioned within the file's span."""
    if file.text:
        records: Iterator[Record] = iter([text_record(data, file.key)])
    else:
        records = data_file_records(file.path, io.BytesIO(data), file.key, fields)
    for number, record in enumerate(records):
        row: dict[str, Any] = {column: getattr(record, column) for column in RECORD_COLUMNS}
        row[POSITION] = index * POSITION_SPAN + number
        yield row


def driver_node() -> dict[str, float]:
    """Ray resources that pin a task to this machine's node: a local path exists only here."""
    import ray

    node = f"node:{ray.util.get_node_ip_address()}"  # type: ignore[no-untyped-call,unused-ignore]
    if node not in ray.cluster_resources():  # type: ignore[no-untyped-call,unused-ignore]
        raise InputError(
            "the job reads local files and writes its shards on the machine that runs it, which is no node of "
            "this Ray cluster (a ray:// client?): run it on a node of the cluster, such as the head node"
        )
    return {node: 0.001}


def read_corpus(source: str, fields: Fields, skip: Collection[int] = frozenset()) -> Any:
    """The records of ``source`` as a Ray Dataset, without those at the positions in ``skip``
    (a resumed job's rows already written). Columns: ``RECORD_COLUMNS`` and the position."""
    import ray

    corpus = list_corpus(source)
    by_path = {_normalized(file.path): (index, file) for index, file in enumerate(corpus.files)}
    files = ray.data.read_binary_files(
        [file.path for file in corpus.files],
        include_paths=True,
        filesystem=corpus.filesystem,
        num_cpus=0,  # reading is light: the CPUs are the actors'
        resources=driver_node() if corpus.local else None,
    )
    return files.map_batches(_records_of(by_path, fields, frozenset(skip)), batch_size=1, batch_format="pyarrow")


def _normalized(path: str) -> str:
    return str(PurePosixPath(path))


def _records_of(
    by_path: dict[str, tuple[int, CorpusFile]], fields: Fields, skip: frozenset[int]
) -> Callable[[Any], Any]:
    def records(batch: Any) -> Any:
        import pyarrow as pa

        rows: list[dict[str, Any]] = []
        for path, data in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist()):
            found = by_path.get(_normalized(path))
            if found is None:
                raise RuntimeError(f"Ray read {path}, which is not among the corpus's files")
            index, file = found
            rows.extend(row for row in file_rows(file, index, data, fields) if row[POSITION] not in skip)
        return pa.Table.from_pylist(rows, schema=_record_schema())

    return records
