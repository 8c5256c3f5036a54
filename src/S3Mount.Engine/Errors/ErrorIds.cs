namespace S3Mount.Engine.Errors;

/// <summary>Every error id S3Mount produces. They are part of the public contract: never rename one.</summary>
public static class ErrorIds
{
    // Input validation (nothing is written when one of these is raised).
    public const string BucketInvalid = "S3MountBucketInvalid";
    public const string PrefixInvalid = "S3MountPrefixInvalid";
    public const string PathInvalid = "S3MountPathInvalid";
    public const string UserInvalid = "S3MountUserInvalid";
    public const string OptionInvalid = "S3MountOptionInvalid";
    public const string OptionConflict = "S3MountOptionConflict";
    public const string OptionUnsupported = "S3MountOptionUnsupported";
    public const string OptionUnknown = "S3MountOptionUnknown";
    public const string ExtraArgumentInvalid = "S3MountExtraArgumentInvalid";
    public const string EnvironmentInvalid = "S3MountEnvironmentInvalid";
    public const string ControlCharacter = "S3MountControlCharacter";
    public const string VersionInvalid = "S3MountVersionInvalid";
    public const string UnitInvalid = "S3MountUnitInvalid";
    public const string NameInvalid = "S3MountNameInvalid";

    // The admin-side bucket check (Preflight.BucketPreflight), before anything is sent to a node.
    public const string BucketNotFound = "S3MountBucketNotFound";
    public const string BucketRegionMismatch = "S3MountBucketRegionMismatch";
    public const string BucketAccessDenied = "S3MountBucketAccessDenied";
    public const string BucketCheckFailed = "S3MountBucketCheckFailed";
}
