using System.Management.Automation;
using S3Mount.Engine.Errors;

namespace S3Mount;

/// <summary>Maps engine failures to PowerShell error records: the engine's stable id, a real category, the failing item as target.</summary>
internal static class ErrorMapping
{
    public static ErrorCategory Category(S3MountErrorKind kind) => kind switch
    {
        S3MountErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        S3MountErrorKind.InvalidData => ErrorCategory.InvalidData,
        S3MountErrorKind.ResourceExists => ErrorCategory.ResourceExists,
        S3MountErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        S3MountErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        S3MountErrorKind.NotInstalled => ErrorCategory.NotInstalled,
        S3MountErrorKind.NotImplemented => ErrorCategory.NotImplemented,
        S3MountErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        S3MountErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
        S3MountErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
        S3MountErrorKind.SecurityError => ErrorCategory.SecurityError,
        S3MountErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        S3MountErrorKind.OperationStopped => ErrorCategory.OperationStopped,
        S3MountErrorKind.DeviceError => ErrorCategory.DeviceError,
        _ => ErrorCategory.InvalidOperation,
    };

    public static ErrorRecord ToErrorRecord(S3MountException e, object? target = null) =>
        new(e, e.ErrorId, Category(e.Kind), target ?? e.Target);
}
