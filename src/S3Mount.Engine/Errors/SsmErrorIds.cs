namespace S3Mount.Engine.Errors;

/// <summary>Error ids raised by the SSM client and the fleet runner. Part of the public contract: never rename one.</summary>
public static class SsmErrorIds
{
    // Service answers.
    public const string SsmThrottled = "SsmThrottled";
    public const string SsmAccessDenied = "SsmAccessDenied";
    public const string SsmInvalidInstanceId = "SsmInvalidInstanceId";
    public const string SsmInvalidCommandId = "SsmInvalidCommandId";
    public const string SsmInvocationDoesNotExist = "SsmInvocationDoesNotExist";
    public const string SsmValidation = "SsmValidation";
    public const string SsmServiceUnavailable = "SsmServiceUnavailable";
    public const string SsmApiError = "SsmApiError";
    public const string SsmConnectionFailed = "SsmConnectionFailed";

    // Per-node outcomes of a fleet run.
    public const string SsmCommandFailed = "SsmCommandFailed";
    public const string SsmCommandTimedOut = "SsmCommandTimedOut";
    public const string SsmUndeliverable = "SsmUndeliverable";
    public const string SsmDeliveryTimedOut = "SsmDeliveryTimedOut";
    public const string SsmAgentOffline = "SsmAgentOffline";
    public const string SsmNotLinux = "SsmNotLinux";
    public const string SsmInstanceNotFound = "SsmInstanceNotFound";
    public const string SsmCancelled = "SsmCancelled";
    public const string SsmMaxErrorsExceeded = "SsmMaxErrorsExceeded";
    public const string S3MountResultTruncated = "S3MountResultTruncated";
    public const string S3MountResultMissing = "S3MountResultMissing";
    public const string SsmOutputReadFailed = "SsmOutputReadFailed";
    public const string S3MountResultInvalid = "S3MountResultInvalid";

    /// <summary>A node's output or result beyond the bounds a result may have (read no further).</summary>
    public const string S3MountResultTooLarge = "S3MountResultTooLarge";

    // Settings.
    public const string SsmProfileNotFound = "SsmProfileNotFound";
    public const string SsmRegionMissing = "SsmRegionMissing";
    public const string SsmCredentialsMissing = "SsmCredentialsMissing";
    public const string SsmEndpointInvalid = "SsmEndpointInvalid";
    public const string SsmRequestInvalid = "SsmRequestInvalid";
}
