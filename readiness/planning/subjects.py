"""The subjects of a room's machines, as the site file names them."""

from __future__ import annotations

from ..config.site import Room
from ..subject import Kind, Subject


def proctor(room: Room) -> Subject:
    return Subject(Kind.PROCTOR, "proctor", room.id, room.proctor.address)


def exam_server(room: Room) -> Subject:
    return Subject(Kind.EXAM_SERVER, "primary", room.id, room.exam_servers.primary.address)


def backup_server(room: Room, address: str) -> Subject:
    return Subject(Kind.BACKUP_SERVER, "backup", room.id, address)


def router(room: Room) -> Subject:
    return Subject(Kind.ROUTER, "router", room.id, room.router.address)


def seat(room: Room, label: str, address: str) -> Subject:
    return Subject(Kind.SEAT, label, room.id, address)


def room_subject(room: Room) -> Subject:
    return Subject(Kind.ROOM, room.id, room.id)
