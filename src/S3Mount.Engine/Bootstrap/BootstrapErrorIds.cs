namespace S3Mount.Engine.Bootstrap;

/// <summary>Error ids of bootstrap exports. Part of the public contract: never rename one.</summary>
public static class BootstrapErrorIds
{
    /// <summary>Nothing to export: no mount and no install step.</summary>
    public const string Empty = "S3MountBootstrapEmpty";

    /// <summary>A mount would carry AWS credentials (its environment) into user data, which every process on the instance can read.</summary>
    public const string SecretRefused = "S3MountBootstrapSecretRefused";

    /// <summary>The user data is larger than EC2 takes (16,384 bytes before base64).</summary>
    public const string TooLarge = "S3MountUserDataTooLarge";

    /// <summary>The user data given to merge with is not a MIME multi-part document or a user data type S3Mount can wrap.</summary>
    public const string UserDataInvalid = "S3MountUserDataInvalid";

    /// <summary>The script location of a ParallelCluster export is missing or not an s3:// or https:// URL.</summary>
    public const string ScriptUriInvalid = "S3MountScriptUriInvalid";

    /// <summary>Parameters that do not go together (a format option for another format, -Compress for a script that must run as is).</summary>
    public const string ParameterConflict = "S3MountParameterConflict";

    /// <summary>The script could not be uploaded to S3.</summary>
    public const string UploadFailed = "S3MountUploadFailed";

    /// <summary>The artifact could not be written to the output file.</summary>
    public const string WriteFailed = "S3MountOutFileFailed";
}
