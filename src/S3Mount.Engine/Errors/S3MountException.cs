using System;

namespace S3Mount.Engine.Errors;

/// <summary>What kind of failure an error is; the cmdlet layer maps it to a PowerShell ErrorCategory.</summary>
public enum S3MountErrorKind
{
    InvalidArgument,
    InvalidData,
    ResourceExists,
    ResourceUnavailable,
    ObjectNotFound,
    NotInstalled,
    NotImplemented,
    PermissionDenied,
    InvalidOperation,
    OperationTimeout,
    SecurityError,
    ConnectionError,
    OperationStopped,
    DeviceError,
    ResourceBusy,
    WriteError,
    InvalidResult,
}

/// <summary>
/// A refusal or failure with a stable, documented error id (never built from data) and a message a person can act on.
/// </summary>
public class S3MountException : Exception
{
    public S3MountException(string errorId, S3MountErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>A fixed word such as <c>S3MountPathInvalid</c>; see <see cref="ErrorIds"/>.</summary>
    public string ErrorId { get; }

    public S3MountErrorKind Kind { get; }

    /// <summary>The value, mount or node that failed.</summary>
    public object? Target { get; }
}
