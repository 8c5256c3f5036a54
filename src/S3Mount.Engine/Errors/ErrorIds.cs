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

    // Mount maps (Compare-/Sync-S3MountService): the whole map is refused before any node is touched.
    /// <summary>A mount map with one or more problems; each problem carries its own id below (or a field id above).</summary>
    public const string MapInvalid = "S3MountMapInvalid";

    /// <summary>A map file (-MapPath) that does not exist.</summary>
    public const string MapNotFound = "S3MountMapNotFound";

    /// <summary>A map file that does not parse as a PowerShell data file.</summary>
    public const string MapSyntax = "S3MountMapSyntax";

    /// <summary>Something in a map file that would run (a command, a sub-expression, a variable, a script block).</summary>
    public const string MapExecutable = "S3MountMapExecutable";

    /// <summary>A map file (or a part of it) that is not of the map's shape: a key that is not known, a value of the wrong kind.</summary>
    public const string MapShape = "S3MountMapShape";

    /// <summary>The same bucket and path twice in one map.</summary>
    public const string MapDuplicatePath = "S3MountMapDuplicatePath";

    /// <summary>Two buckets mapped to one path.</summary>
    public const string MapPathConflict = "S3MountMapPathConflict";

    /// <summary>A mapped path inside another mapped path.</summary>
    public const string MapNested = "S3MountMapNested";
}
