#!/usr/bin/env bash
# Kafka least privilege for labelops: one SCRAM user per service, allowed to write only its own
# events and DLQ topics and to read only the topics its dispatch table consumes
# (services/<x>/src/labelops_<x>/entrypoints/consumers.py; docs/events.md lists them).
#
#   KAFKA_BIN=/opt/kafka/bin BOOTSTRAP=kafka-1.internal:9093 \
#   KAFKA_ADMIN_CONFIG=/etc/kafka/secrets/admin.properties \
#   SECRETS_DIR=/etc/kafka/secrets/users deploy/kafka/acls.sh
#
# SECRETS_DIR/labelops-<service>.password holds each user's password (one line). Options:
#   --dry-run   print the commands instead of running them (no broker needed)
#   --no-users  do not (re)set SCRAM credentials
#   --no-topics do not create the topics
# Idempotent: ACLs and topics that exist are left as they are.
set -euo pipefail

KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9093}
KAFKA_ADMIN_CONFIG=${KAFKA_ADMIN_CONFIG:-/etc/kafka/secrets/admin.properties}
SECRETS_DIR=${SECRETS_DIR:-/etc/kafka/secrets/users}
PARTITIONS=${PARTITIONS:-3}
REPLICATION=${REPLICATION:-3}
MECHANISM=${MECHANISM:-SCRAM-SHA-512}

DRY_RUN=0 USERS=1 TOPICS=1
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --no-users) USERS=0 ;;
    --no-topics) TOPICS=0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

SERVICES=(ontology curation routing qa datasets prelabel)
# Producers whose events topic each service consumes (its dispatch table's consumers).
declare -A CONSUMES=(
  [ontology]=""
  [curation]=""
  [routing]="curation ontology prelabel qa"
  [qa]="ontology routing"
  [datasets]="curation ontology qa"
  [prelabel]="curation qa routing"
)
# Readers of every events topic without a consumer group: the gateway's event stream and
# operators' `labelops events tail`.
READERS=(gateway operator)

run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '%q ' "$@"; printf '\n'
  else
    "$@"
  fi
}

acl() {
  run "$KAFKA_BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" \
    --command-config "$KAFKA_ADMIN_CONFIG" --add --force "$@"
}

user() {
  local name=$1 secret="$SECRETS_DIR/$1.password" password
  if [ "$DRY_RUN" = 1 ]; then
    password='<from '"$secret"'>'
  else
    password=$(head -n1 "$secret")
  fi
  run "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" \
    --command-config "$KAFKA_ADMIN_CONFIG" --alter --entity-type users --entity-name "$name" \
    --add-config "$MECHANISM=[iterations=8192,password=$password]"
}

topic() {
  run "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" \
    --command-config "$KAFKA_ADMIN_CONFIG" --create --if-not-exists --topic "$1" \
    --partitions "$PARTITIONS" --replication-factor "$REPLICATION" "${@:2}"
}

for svc in "${SERVICES[@]}"; do
  p="User:labelops-$svc"
  [ "$USERS" = 1 ] && user "labelops-$svc"
  if [ "$TOPICS" = 1 ]; then
    # 16 MiB events, as labelops_bus.topics.EVENTS_TOPIC_CONFIGS.
    topic "labelops.$svc.events.v1" --config max.message.bytes=16777216
    topic "labelops.$svc.dlq.v1"
  fi
  # Its outbox relay publishes its events; its runners dead-letter into its DLQ.
  acl --allow-principal "$p" --operation Write --operation Describe \
    --topic "labelops.$svc.events.v1"
  acl --allow-principal "$p" --operation Write --operation Describe --topic "labelops.$svc.dlq.v1"
  # Idempotent producers (relay, DLQ): implied by Write on brokers >= 3.0; explicit for older.
  acl --allow-principal "$p" --operation IdempotentWrite --cluster
  for producer in ${CONSUMES[$svc]}; do
    acl --allow-principal "$p" --operation Read --operation Describe \
      --topic "labelops.$producer.events.v1"
  done
  if [ -n "${CONSUMES[$svc]}" ]; then
    # Its consumer groups are <service>.<consumer> (labelops_servicekit.consumer_workers).
    acl --allow-principal "$p" --operation Read --operation Describe \
      --group "$svc." --resource-pattern-type prefixed
  fi
done

for reader in "${READERS[@]}"; do
  p="User:labelops-$reader"
  [ "$USERS" = 1 ] && user "labelops-$reader"
  for producer in "${SERVICES[@]}"; do
    acl --allow-principal "$p" --operation Read --operation Describe \
      --topic "labelops.$producer.events.v1"
  done
done
