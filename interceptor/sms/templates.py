"""The SMS text: a template per language with placeholders, the ad appended only if the
whole still fits the part budget, the encoding chosen from the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from interceptor.sms import gsm7
from interceptor.sms.config import CallerFormat, SmsConfig


@dataclass(frozen=True)
class Rendered:
    text: str
    with_ad: bool
    parts: int
    data_coding: int


class MessageComposer:
    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.time_zone)

    def national(self, e164: str) -> str:
        cc = self.config.country_code
        if e164.startswith(cc):
            return self.config.national_prefix + e164[len(cc):]
        return "+" + e164

    def spaced(self, national: str) -> str:
        if len(national) == 10 and national.isdigit():
            return f"{national[:4]} {national[4:7]} {national[7:]}"
        return national

    def caller_text(self, e164: str) -> str:
        style = self.config.caller_format
        if style == CallerFormat.INTERNATIONAL:
            return "+" + e164
        national = self.national(e164)
        return self.spaced(national) if style == CallerFormat.NATIONAL_SPACED else national

    def render(self, template: str, caller: str, callee: str, when: datetime,
               ad: str | None) -> Rendered:
        """``template`` filled in; ``ad`` (with the separator) only if the result fits
        ``max_parts``. A text that does not fit even without the ad is still returned
        (its ``parts`` says how many it needs; the caller refuses it)."""
        local = when.astimezone(self.zone)
        values = {
            "caller": self.caller_text(caller),
            "caller_national": self.national(caller),
            "caller_international": "+" + caller,
            "callee": self.caller_text(callee),
            "time": local.strftime(self.config.time_format),
            "date": local.strftime(self.config.date_format),
        }
        if ad:
            text = template.format(**values, ad=self.config.ads.separator + ad)
            encoded = gsm7.encode(text)
            parts = len(encoded.chunks())
            if parts <= self.config.max_parts:
                return Rendered(text, True, parts, encoded.data_coding)
        text = template.format(**values, ad="")
        encoded = gsm7.encode(text)
        return Rendered(text, False, len(encoded.chunks()), encoded.data_coding)
