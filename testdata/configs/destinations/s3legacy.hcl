destination "s3legacy" "acme" {
  account     = "acme"                                        # the daemon's own
  bucket      = "acme-platform-dump"
  role_arn    = "arn:aws:iam::444455556666:role/platform-export"
  external_id = "acme"
  folder      = "dumps"
  region      = "eu-west-1"
}
