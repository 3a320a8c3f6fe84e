"""Recipe git repos in the shapes Co-op Cloud writes them, built for tests (real git, real tags).

The shapes follow public recipes (bonfire's `compose.yml` + `compose.postgres.yml`, `.env.sample` building
COMPOSE_FILE line by line): an override file for the database, list-form labels in compose.yml and
mapping-form ones in the override, `${VAR:-default}` pins, `x-` anchors merged with `<<:`, `version:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from demo.sample.gitutil import git

BONFIRE_COMPOSE = """\
---
version: "3.8"

services:
  app:
    image: bonfirenetworks/bonfire:${APP_VERSION:-1.0.4}-${APP_FLAVOUR:-social}-amd64
    environment:
      - HOSTNAME=${DOMAIN}
      - LANG=${LANG:-en_US.UTF-8}
    depends_on:
      - db
    volumes:
      - upload-data:/opt/app/data/uploads
    networks:
      - proxy
      - internal
    deploy:
      restart_policy:
        condition: on-failure
      labels:
        - "backupbot.backup=${ENABLE_BACKUPS:-true}"
        #- backupbot.backup.volumes.upload-data: "true"
        - "traefik.enable=true"
        - "traefik.http.services.${STACK_NAME}.loadbalancer.server.port=4000"
        - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`${EXTRA_DOMAINS})"
        - "coop-cloud.${STACK_NAME}.version=1.0.0+1.0.4"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:4000"]
      interval: 30s

volumes:
  upload-data:

networks:
  proxy:
    external: true
  internal:
"""

BONFIRE_POSTGRES = """\
version: '3.8'

x-postgres-env: &postgres-env
  POSTGRES_DB: bonfire_db
  POSTGRES_USER: postgres

services:
  app:
    environment:
      <<: *postgres-env
      POSTGRES_HOST: ${STACK_NAME}_db
  db:
    image: ${DB_DOCKER_IMAGE:-ghcr.io/baosystems/postgis}:${DB_DOCKER_VERSION:-17-3.5}
    environment:
      <<: *postgres-env
    volumes:
      - db-data:/var/lib/postgresql/data
    networks:
      - internal
    deploy:
      labels:
        backupbot.backup: ${ENABLE_BACKUPS:-true}
        backupbot.backup.pre-hook: "/pg_backup.sh backup"
        backupbot.backup.volumes.db-data.path: "backup.sql"
        backupbot.restore.post-hook: '/pg_backup.sh restore'

volumes:
  db-data:
"""

BONFIRE_MAIL = """\
version: "3.8"
services:
  app:
    environment:
      - MAIL_BACKEND=${MAIL_BACKEND:-smtp}
    secrets:
      - mail_password
"""

BONFIRE_ENV = """\
TYPE=bonfire

LETS_ENCRYPT_ENV=production

# uncomment to run specific version e.g. v1.0.4
#APP_VERSION=latest

DOMAIN=bonfire.example.com
## Domain aliases
#EXTRA_DOMAINS=', `www.bonfire.example.com`'

# enable abra backups
ENABLE_BACKUPS=true

COMPOSE_FILE="compose.yml"

# ====================================
# DATABASE CONFIG
COMPOSE_FILE="$COMPOSE_FILE:compose.postgres.yml"
SECRET_POSTGRES_PASSWORD_VERSION=v1

# Enable `compose.mail.yml` to set secrets for sending emails:
# COMPOSE_FILE="$COMPOSE_FILE:compose.mail.yml"
SECRET_SECRET_KEY_BASE_VERSION=v1 # length=128
"""

BONFIRE = {
    "compose.yml": BONFIRE_COMPOSE,
    "compose.postgres.yml": BONFIRE_POSTGRES,
    "compose.mail.yml": BONFIRE_MAIL,
    ".env.sample": BONFIRE_ENV,
    "abra.sh": "export PG_BACKUP_VERSION=v4\n",
}

# mattermost-lts as cc-ci found it: one compose.yml, the database as `postgres`, mapping labels that
# hot-copy PGDATA and never replay the dump on restore.
MATTERMOST_COMPOSE = """\
version: "3.8"
services:
  app:
    image: mattermost/mattermost-enterprise-edition:${VERSION:-10.11.15}
    volumes:
      - mattermost:/mattermost/data
    deploy:
      labels:
        backupbot.backup: "true"
        traefik.enable: "true"
        coop-cloud.${STACK_NAME}.version: 2.1.9+10.11.15
  postgres:
    image: postgres:15.13
    volumes:
      - postgres:/var/lib/postgresql/data
    deploy:
      labels:
        backupbot.backup: "true"
        backupbot.backup.pre-hook: "pg_dump -U ${POSTGRES_USER} mattermost > /var/lib/postgresql/data/backup.sql"
        backupbot.backup.post-hook: "rm -f /var/lib/postgresql/data/backup.sql"
        backupbot.backup.path: "/var/lib/postgresql/data/"
volumes:
  mattermost:
  postgres:
"""

MATTERMOST = {
    "compose.yml": MATTERMOST_COMPOSE,
    ".env.sample": 'TYPE=mattermost-lts\nDOMAIN=mattermost.example.com\nCOMPOSE_FILE="compose.yml"\n',
}


def recipe_repo(
    path: Path, releases: Mapping[str, Mapping[str, str | None]], main: Mapping[str, str | None] | None = None
) -> Path:
    """A recipe repo: one commit and tag per release (files set, or removed when None), then main's changes."""
    path.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    for tag, files in [*releases.items(), ("", main or {})]:
        for name, text in files.items():
            if text is None:
                (path / name).unlink(missing_ok=True)
            else:
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                (path / name).write_text(text, encoding="utf-8")
        git("add", "--all", cwd=path)
        git("commit", "--quiet", "--allow-empty", "-m", tag or "main moves on", cwd=path)
        if tag:
            git("tag", tag, cwd=path)
    return path
