"""The company's status page, another service: notices are published there with the service's app token."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Notice
from app.notices import notice_json
from config import Settings


def status_page(settings: Settings, auth: httpx.Auth) -> httpx.Client:
    return httpx.Client(base_url=settings.status_page_url, auth=auth, timeout=10)


def published_notices(session: Session, status_page: httpx.Client) -> int:
    """Publishes the notices not yet published; how many it published."""
    unpublished = session.scalars(select(Notice).where(Notice.published.is_(False)).order_by(Notice.id)).all()
    for notice in unpublished:
        # PUT by our id: a run that fails half-way and is run again publishes each notice once.
        answer = status_page.put(f"/incidents/outages-{notice.id}", json=notice_json(notice))
        answer.raise_for_status()
        notice.published = True
    return len(unpublished)
