# The demo: everything embedded, nothing to install.
#
#   make demo
#
# runs the daemon on this file, publishes one modelling-complete event for
# the account "demo", and shows what landed in ../out/demo. Relative paths
# are taken from this file's directory.

data_dir = "../var/demo"

nats {
  # No url: exportd runs its own NATS server with JetStream, storing its
  # data in data_dir. Listening on loopback lets `exportd publish` reach it.
  listen = "127.0.0.1:14222"
  # With EXPORTD_NATS_TOKEN set, the server requires it of every client
  # (exportd publish reads it from this file too); unset, anyone on the
  # machine may publish, and the daemon warns that it listens without
  # authentication.
  token = env("EXPORTD_NATS_TOKEN", "")
}

http {
  listen = "127.0.0.1:19464"
}

# Generated, realistic data for the six platform tables.
source "sample" {
  seed  = 42
  scale = 5
}

parquet {
  compression      = "gzip"
  # Small files, so that the demo shows a table split into several.
  target_file_size = "1MiB"
}

# The localfs plugin writes the exact AWS S3 Legacy layout into a folder.
# It is found next to the exportd binary (bin/exportd-plugin-localfs).
destination "localfs" "demo-folder" {
  account = "demo"
  path    = "../out/demo"
}
