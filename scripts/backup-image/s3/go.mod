module app-databases/backup-image/s3

go 1.22
