namespace S3Mount.Engine.Model;

/// <summary><c>--bucket-type</c>.</summary>
public enum BucketType
{
    GeneralPurpose,
    Directory,
}

/// <summary><c>--sse</c>.</summary>
public enum ServerSideEncryption
{
    /// <summary><c>aws:kms</c></summary>
    AwsKms,

    /// <summary><c>aws:kms:dsse</c></summary>
    AwsKmsDsse,

    /// <summary><c>AES256</c></summary>
    Aes256,
}

/// <summary><c>--upload-checksums</c>.</summary>
public enum UploadChecksums
{
    Crc32c,
    Crc64nvme,
    Off,
}

/// <summary>What <see cref="MetadataTtl"/> holds.</summary>
public enum MetadataTtlKind
{
    Seconds,
    Indefinite,
    Minimal,
}
