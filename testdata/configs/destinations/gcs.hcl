destination "gcs" "initech" {
  account                     = "initech"
  bucket                      = "initech-platform-dump"
  folder                      = "dumps"
  impersonate_service_account = "platform-export@initech-analytics.iam.gserviceaccount.com"
}
