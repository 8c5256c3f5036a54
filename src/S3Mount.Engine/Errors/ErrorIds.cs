namespace S3Mount.Engine.Errors;

/// <summary>Every error id S3Mount produces. They are part of the public contract: never rename one.</summary>
public static class ErrorIds
{
    // Input validation (nothing is written when one of these is raised).
    public const string BucketInvalid = "S3MountBucketInvalid";
    public const string PrefixInvalid = "S3MountPrefixInvalid";
    public const string PathInvalid = "S3MountPathInvalid";

    /// <summary>A mount or cache directory exactly at a directory that holds data (/home, /tmp, /mnt, a home directory, ...).</summary>
    public const string PathReserved = "S3MountPathReserved";

    /// <summary>A mount inside another S3 mount, or around one (refused on the node, which knows its units).</summary>
    public const string PathNested = "S3MountPathNested";
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

    /// <summary>A field of a mount (a parameter name, a property of a piped object, a key of a mount map) that is not one.</summary>
    public const string FieldUnknown = "S3MountFieldUnknown";

    /// <summary>A field of a mount given twice, missing, or with a value of the wrong type.</summary>
    public const string FieldInvalid = "S3MountFieldInvalid";
}
