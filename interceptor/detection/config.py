"""The ``detection`` configuration section: which CCRs are voice calls, where A and B are,
and which CCA result codes mean "out of credit"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interceptor.core import avps
from interceptor.core.section import ConfigError, PathElement, Section
from interceptor.diameter.dictionary import Dictionary, DictionaryError, PathError, load_dictionary
from interceptor.diameter.paths import compile_condition, compile_value_path

DEFAULT_VOICE_CONTEXTS = (avps.CONTEXT_IMS_VOICE, avps.CONTEXT_MMTEL)
DEFAULT_OUT_OF_CREDIT_CODES = frozenset({avps.CREDIT_LIMIT_REACHED})
DEFAULT_CALLER_PATHS = (
    "Subscription-Id[Subscription-Id-Type=END_USER_E164]/Subscription-Id-Data",
    "Service-Information/IMS-Information/Calling-Party-Address",
)
DEFAULT_CALLEE_PATHS = (
    "Service-Information/IMS-Information/Called-Party-Address",
    "Service-Information/IMS-Information/Requested-Party-Address",
)
DEFAULT_EXCLUDE_WHEN = (
    # A terminating-side CCR charges B: its Subscription-Id is B, not the caller.
    "Service-Information/IMS-Information/Role-of-Node=TERMINATING_ROLE",
    "Service-Information/MMTel-Information/Subscriber-Role=TERMINATING",
)


@dataclass(frozen=True)
class DetectionConfig:
    """What makes a relayed CCR a call attempt and its CCA an out-of-credit answer.

    ``caller_paths``/``callee_paths`` are tried in order; the first non-empty value wins.
    A CCR matching any ``exclude_when`` condition is not a candidate.
    ``experimental_out_of_credit`` lists (vendor id, Experimental-Result-Code) pairs that
    also count; empty by default (RFC 8506 puts 4012 in Result-Code).
    """

    voice_contexts: tuple[str, ...] = DEFAULT_VOICE_CONTEXTS
    out_of_credit_codes: frozenset[int] = DEFAULT_OUT_OF_CREDIT_CODES
    caller_paths: tuple[str, ...] = DEFAULT_CALLER_PATHS
    callee_paths: tuple[str, ...] = DEFAULT_CALLEE_PATHS
    exclude_when: tuple[str, ...] = DEFAULT_EXCLUDE_WHEN
    experimental_out_of_credit: tuple[tuple[int, int], ...] = ()
    dictionary_files: tuple[str, ...] = ()
    """Extra dictionary files, loaded after the shipped ``dictionaries/*.xml``."""


def parse_detection(section: Section, *, base_dir: Path | None = None) -> DetectionConfig:
    """Read and fully check the section: dictionaries load and every path resolves.

    Relative ``dictionary_files`` are taken relative to ``base_dir`` (e.g. the config
    file's folder) when given, else to the working directory.
    """
    voice_contexts = section.str_list("voice_contexts", list(DEFAULT_VOICE_CONTEXTS))
    if not voice_contexts:
        raise ConfigError("must name at least one Service-Context-Id",
                          section.at("voice_contexts"))
    codes = _out_of_credit_codes(section)
    experimental = _experimental(section)
    files = _dictionary_files(section, base_dir)
    dictionary = _load(section, files)
    caller_paths = _paths(section, dictionary, "caller_paths", DEFAULT_CALLER_PATHS)
    callee_paths = _paths(section, dictionary, "callee_paths", DEFAULT_CALLEE_PATHS)
    exclude_when = section.str_list("exclude_when", list(DEFAULT_EXCLUDE_WHEN))
    for index, text in enumerate(exclude_when):
        try:
            compile_condition(dictionary, text)
        except PathError as error:
            raise ConfigError(str(error), (*section.at("exclude_when"), index)) from None
    section.reject_unknown()
    return DetectionConfig(
        voice_contexts=tuple(voice_contexts),
        out_of_credit_codes=codes,
        caller_paths=caller_paths,
        callee_paths=callee_paths,
        exclude_when=tuple(exclude_when),
        experimental_out_of_credit=experimental,
        dictionary_files=files,
    )


def load_detection_dictionary(config: DetectionConfig) -> Dictionary:
    """The shipped dictionaries plus the configured extra files."""
    return load_dictionary(extra=config.dictionary_files)


def _out_of_credit_codes(section: Section) -> frozenset[int]:
    codes = section.int_list("out_of_credit_codes", sorted(DEFAULT_OUT_OF_CREDIT_CODES))
    if not codes:
        raise ConfigError("must name at least one Result-Code",
                          section.at("out_of_credit_codes"))
    for index, code in enumerate(codes):
        path = (*section.at("out_of_credit_codes"), index)
        if code == avps.CREDIT_CONTROL_NOT_APPLICABLE:
            raise ConfigError("4011 DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE means the "
                              "service is free, never that the caller is out of credit",
                              path)
        if not 4000 <= code <= 5999:
            raise ConfigError(f"{code} is not a failure Result-Code (4xxx or 5xxx)", path)
    return frozenset(codes)


def _experimental(section: Section) -> tuple[tuple[int, int], ...]:
    pairs = []
    for item in section.sections("experimental_out_of_credit", []):
        pairs.append((item.int("vendor_id", low=1, high=0xFFFFFFFF),
                      item.int("code", low=1, high=0xFFFFFFFF)))
        item.reject_unknown()
    return tuple(pairs)


def _dictionary_files(section: Section, base_dir: Path | None) -> tuple[str, ...]:
    files = []
    for name in section.str_list("dictionary_files", []):
        path = Path(name).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        files.append(str(path))
    return tuple(files)


def _load(section: Section, files: tuple[str, ...]) -> Dictionary:
    try:
        return load_dictionary(extra=files)
    except DictionaryError as error:
        where: tuple[PathElement, ...] = section.path
        for index, file in enumerate(files):
            if error.file is not None and Path(error.file) == Path(file):
                where = (*section.at("dictionary_files"), index)
        raise ConfigError(str(error), where) from None


def _paths(section: Section, dictionary: Dictionary, key: str,
           default: tuple[str, ...]) -> tuple[str, ...]:
    texts = section.str_list(key, list(default))
    if not texts:
        raise ConfigError("must name at least one AVP path", section.at(key))
    for index, text in enumerate(texts):
        try:
            compile_value_path(dictionary, text)
        except PathError as error:
            raise ConfigError(str(error), (*section.at(key), index)) from None
    return tuple(texts)
