destination "azblob" "umbrella" {
  account         = "umbrella"
  storage_account = "umbrelladata"
  container       = "platform-dump"
  folder          = "dumps"
  sas_token       = file("secrets/umbrella.sas")  # beside the configuration file
}
