"""Back-office accounts: passwords (Argon2id, never a common one), sign-in with a growing delay
after repeated failures, and sessions that end on sign-out, after inactivity, or when the
password changes (docs/security.md, "The back office")."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, insert, select, update

from storefront.admin.models import Role, SignInFailure, StaffAccount, StaffSession
from storefront.db import Database
from storefront.i18n import N_, ExplainedError
from storefront.tables import table_of
from storefront.tokens import new_token, token_hash

logger = logging.getLogger("storefront.admin")

account_t = table_of(StaffAccount)
session_t = table_of(StaffSession)
failure_t = table_of(SignInFailure)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing is deliberately slow; no one needs more
# After this many failures within FAILURE_WINDOW, each further attempt waits: 30 s, 1 min, 2 min, …
FREE_FAILURES = 5
FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(minutes=15)
FAILURE_WINDOW = dt.timedelta(hours=1)
TOUCH_EVERY = dt.timedelta(minutes=1)  # a session's last activity is written at most this often

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile)
# Verified when the e-mail is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(new_token())


class AccountError(ExplainedError):
    """A request about accounts that cannot be done, with a message for the person who asked."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    email: str
    role: Role
    session_hash: str = ""  # the session this request came with

    @property
    def owner(self) -> bool:
        return self.role == Role.OWNER


@dataclass(frozen=True, slots=True)
class SignedIn:
    member: StaffMember
    token: str  # for the cookie; only its hash is stored


@dataclass(frozen=True, slots=True)
class Throttled:
    retry_after: dt.timedelta


class Refused:
    """Wrong e-mail or wrong password: the answer never says which."""


def normal_email(email: str) -> str:
    return email.strip().lower()


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most used passwords of zxcvbn's list (from leaked password collections)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, email: str) -> None:
    """Long enough, not one of the most common passwords, and not the e-mail address (NIST SP
    800-63B, section 3.1.1.2)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(N_("The password must be at least %(length)s characters long."), length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(N_("The password must be at most %(length)s characters long."), length=MAX_PASSWORD_LENGTH)
    lowered = password.lower()
    local_part = normal_email(email).split("@", 1)[0]
    if lowered in _common_passwords() or lowered.strip("0123456789!?.") in _common_passwords():
        raise AccountError(N_("This password is one of the most commonly used ones; choose another."))
    if lowered in {normal_email(email), local_part} or len(set(lowered)) < 4:
        raise AccountError(N_("This password is too easy to guess; choose another."))


def _check_email(email: str) -> str:
    email = normal_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError(f"{email!r} is not an e-mail address.")
    return email


async def _hash(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


# --- accounts (the command line) -----------------------------------------------------------------


async def add_account(database: Database, email: str, role: Role, password: str) -> StaffMember:
    email = _check_email(email)
    check_password(password, email)
    password_hash = await _hash(password)
    now = dt.datetime.now(dt.UTC)
    async with database.write() as connection:
        if await connection.scalar(select(account_t.c.id).where(account_t.c.email == email)) is not None:
            raise AccountError(f"There is already an account for {email}.")
        created = await connection.execute(
            insert(account_t)
            .values(email=email, role=role.value, password_hash=password_hash, created_at=now, updated_at=now)
            .returning(account_t.c.id)
        )
        account_id = created.scalar_one()
    logger.info("staff account %s added (%s)", email, role.value)
    return StaffMember(account_id, email, role)


async def list_accounts(database: Database) -> list[tuple[str, Role, dt.datetime, int]]:
    """Every account: e-mail, role, when it was added, how many sessions are open."""
    sessions = (
        select(func.count())
        .where(session_t.c.account_id == account_t.c.id)
        .correlate(account_t)
        .scalar_subquery()
        .label("sessions")
    )
    async with database.read() as connection:
        rows = (
            await connection.execute(
                select(account_t.c.email, account_t.c.role, account_t.c.created_at, sessions).order_by(
                    account_t.c.email
                )
            )
        ).all()
    return [(row.email, Role(row.role), row.created_at, int(row.sessions)) for row in rows]


async def remove_account(database: Database, email: str) -> None:
    """Remove an account and end its sessions; the last owner stays, so the shop is never locked out."""
    email = normal_email(email)
    async with database.write() as connection:
        role = await connection.scalar(select(account_t.c.role).where(account_t.c.email == email).with_for_update())
        if role is None:
            raise AccountError(f"There is no account for {email}.")
        if role == Role.OWNER.value:
            owners = await connection.scalar(
                select(func.count()).where(account_t.c.role == Role.OWNER.value, account_t.c.email != email)
            )
            if not owners:
                raise AccountError(f"{email} is the last owner account; add another owner first.")
        await connection.execute(delete(account_t).where(account_t.c.email == email))
    logger.info("staff account %s removed", email)


async def set_password(database: Database, email: str, password: str, *, keep_session: str = "") -> int:
    """A new password; every session of the account ends except `keep_session` (the hash of the
    session of whoever changed it in the browser). Returns how many sessions ended."""
    email = normal_email(email)
    check_password(password, email)
    password_hash = await _hash(password)
    async with database.write() as connection:
        account_id = await connection.scalar(select(account_t.c.id).where(account_t.c.email == email))
        if account_id is None:
            raise AccountError(f"There is no account for {email}.")
        await connection.execute(
            update(account_t)
            .where(account_t.c.id == account_id)
            .values(password_hash=password_hash, updated_at=dt.datetime.now(dt.UTC))
        )
        ended = await connection.execute(
            delete(session_t).where(session_t.c.account_id == account_id, session_t.c.token_hash != keep_session)
        )
        await connection.execute(delete(failure_t).where(failure_t.c.email == email))
    logger.info("staff account %s: password changed, %d other session(s) ended", email, ended.rowcount)
    return ended.rowcount


# --- signing in ----------------------------------------------------------------------------------

_FAILURES = select(func.count(), func.max(failure_t.c.at)).where(failure_t.c.at > bindparam("since"))


def delay_after(failures: int) -> dt.timedelta:
    """How long to wait after the last failure before the next attempt is even checked."""
    if failures < FREE_FAILURES:
        return dt.timedelta(0)
    return min(FIRST_DELAY * (1 << min(failures - FREE_FAILURES, 10)), MAX_DELAY)


async def sign_in(database: Database, email: str, password: str, address: str) -> SignedIn | Throttled | Refused:
    email = normal_email(email)[:254]
    now = dt.datetime.now(dt.UTC)
    since = now - FAILURE_WINDOW
    async with database.read() as connection:
        waits = []
        for column, value in ((failure_t.c.email, email), (failure_t.c.address, address)):
            count, last = (await connection.execute(_FAILURES.where(column == value), {"since": since})).one()
            if count and last is not None:
                waits.append(last + delay_after(int(count)) - now)
        account = (
            await connection.execute(
                select(account_t.c.id, account_t.c.role, account_t.c.password_hash).where(account_t.c.email == email)
            )
        ).one_or_none()
    wait = max(waits, default=dt.timedelta(0))
    if wait > dt.timedelta(0):
        logger.warning("sign-in for %s from %s refused: too many failures, %ds to wait", email, address, wait.seconds)
        return Throttled(wait)
    matches = await _verify(account.password_hash if account else _DUMMY_HASH, password)
    if account is None or not matches:
        async with database.write() as connection:
            await connection.execute(insert(failure_t).values(email=email, address=address[:64], at=now))
            await connection.execute(delete(failure_t).where(failure_t.c.at < now - FAILURE_WINDOW * 24))
        logger.warning("sign-in failed for %s from %s", email, address)
        return Refused()
    token = new_token()
    async with database.write() as connection:
        await connection.execute(
            insert(session_t).values(
                token_hash=token_hash(token), account_id=account.id, created_at=now, last_seen_at=now
            )
        )
        await connection.execute(delete(failure_t).where(failure_t.c.email == email))
        if _hasher.check_needs_rehash(account.password_hash):
            await connection.execute(
                update(account_t).where(account_t.c.id == account.id).values(password_hash=await _hash(password))
            )
    logger.info("%s signed in from %s", email, address)
    return SignedIn(StaffMember(account.id, email, Role(account.role), token_hash(token)), token)


# --- sessions ------------------------------------------------------------------------------------

_SESSION = (
    select(session_t.c.id, session_t.c.last_seen_at, account_t.c.id, account_t.c.email, account_t.c.role)
    .join(account_t, account_t.c.id == session_t.c.account_id)
    .where(session_t.c.token_hash == bindparam("token"))
)


async def session_member(database: Database, token: str, idle: dt.timedelta) -> StaffMember | None:
    """Who a session cookie belongs to, if the session is still open; using it keeps it open."""
    hashed = token_hash(token)
    now = dt.datetime.now(dt.UTC)
    async with database.read() as connection:
        row = (await connection.execute(_SESSION, {"token": hashed})).one_or_none()
    if row is None:
        return None
    session_id, last_seen, account_id, email, role = row
    if last_seen < now - idle:
        await end_session(database, token)
        return None
    if last_seen < now - TOUCH_EVERY:
        async with database.write() as connection:
            await connection.execute(update(session_t).where(session_t.c.id == session_id).values(last_seen_at=now))
    return StaffMember(account_id, email, Role(role), hashed)


async def end_session(database: Database, token: str) -> None:
    async with database.write() as connection:
        await connection.execute(delete(session_t).where(session_t.c.token_hash == token_hash(token)))


async def end_idle_sessions(database: Database, idle: dt.timedelta) -> int:
    """Forget the sessions nobody used for `idle` (a closed browser never signs out)."""
    async with database.write() as connection:
        ended = await connection.execute(
            delete(session_t).where(session_t.c.last_seen_at < dt.datetime.now(dt.UTC) - idle)
        )
    return ended.rowcount


async def verify_password(database: Database, member: StaffMember, password: str) -> bool:
    async with database.read() as connection:
        stored = await connection.scalar(select(account_t.c.password_hash).where(account_t.c.id == member.id))
    return stored is not None and await _verify(stored, password)
