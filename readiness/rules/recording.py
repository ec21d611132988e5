"""CAM-STORE: each camera's recording and the recorder's free space."""

from __future__ import annotations

from ..results import CheckResult, Text
from . import Rule
from ._words import num


def _cam_store(r: CheckResult) -> Text | None:
    m = r.measured
    free, need = num(m.get("free_gb")), num(m.get("need_gb"))
    if free is not None and need is not None:
        return Text(f"{free:g} GB free · exam needs {need:g} GB",
                    f"剩余 {free:g} GB · 考试需 {need:g} GB")
    if "recording" in m and m.get("recording") is None:
        return Text("no recording", "无录像")
    age = num(m.get("data_age_s"))
    if age is None:
        return None
    replay = m.get("replay") if isinstance(m.get("replay"), dict) else {}
    size = f" · replay {replay['width']}×{replay['height']}" if "width" in replay else ""
    size_zh = f" · 回放 {replay['width']}×{replay['height']}" if "width" in replay else ""
    return Text(f"latest data {age:.0f} s ago{size}", f"最新数据 {age:.0f} 秒前{size_zh}")


RULES = (Rule("CAM-STORE", _cam_store),)
