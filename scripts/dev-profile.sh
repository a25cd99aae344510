# Sourced by the scripts that run order-host against a local, plaintext dev server (start.sh, test.sh, lib.sh): a
# Temporal connection profile of the user's own — ~/.config/temporalio/temporal.toml, TEMPORAL_PROFILE, an API key,
# TLS settings — must not send order-host (which reads them like the temporal CLI does) to another cluster or turn
# TLS on against the dev server.
export TEMPORAL_CONFIG_FILE=/dev/null
unset TEMPORAL_PROFILE TEMPORAL_API_KEY TEMPORAL_TLS TEMPORAL_TLS_SERVER_NAME TEMPORAL_TLS_DISABLE_HOST_VERIFICATION \
  TEMPORAL_TLS_CLIENT_CERT_PATH TEMPORAL_TLS_CLIENT_CERT_DATA TEMPORAL_TLS_CLIENT_KEY_PATH TEMPORAL_TLS_CLIENT_KEY_DATA \
  TEMPORAL_TLS_SERVER_CA_CERT_PATH TEMPORAL_TLS_SERVER_CA_CERT_DATA
