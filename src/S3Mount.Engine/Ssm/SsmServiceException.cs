using System;
using System.Net;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Ssm;

/// <summary>An error answer from the SSM service (or the way to it), with the service's own error code kept.</summary>
public class SsmServiceException : S3MountException
{
    public SsmServiceException(string errorId, S3MountErrorKind kind, string message, string errorCode, HttpStatusCode? statusCode, string? requestId, object? target = null, Exception? inner = null)
        : base(errorId, kind, message, target, inner)
    {
        ErrorCode = errorCode;
        StatusCode = statusCode;
        RequestId = requestId;
    }

    /// <summary>The service's error code: <c>__type</c> after <c>#</c>, without anything after <c>:</c>.</summary>
    public string ErrorCode { get; }

    public HttpStatusCode? StatusCode { get; }

    public string? RequestId { get; }

    /// <summary>True for throttling and 500/502/503/504: worth another attempt later.</summary>
    public bool IsTransient => IsThrottlingCode(ErrorCode) || IsTransientStatus(StatusCode);

    public static bool IsThrottlingCode(string? code) =>
        code == "ThrottlingException" || code == "Throttling" || code == "TooManyRequestsException" || code == "RequestLimitExceeded";

    public static bool IsTransientStatus(HttpStatusCode? status) =>
        status is not null && ((int)status.Value == 500 || (int)status.Value == 502 || (int)status.Value == 503 || (int)status.Value == 504);

    /// <summary>Turns a service error code into a typed exception with a stable S3Mount error id.</summary>
    public static SsmServiceException FromError(string errorCode, string? message, HttpStatusCode? status, string? requestId, object? target = null)
    {
        var text = string.IsNullOrEmpty(message) ? errorCode : errorCode + ": " + message;
        if (IsThrottlingCode(errorCode))
        {
            return new SsmThrottledException("SSM throttled the request (" + text + "). Retry later or lower -MaxConcurrency.", errorCode, status, requestId, target);
        }

        switch (errorCode)
        {
            case "AccessDeniedException":
            case "UnrecognizedClientException":
            case "InvalidSignatureException":
            case "SignatureDoesNotMatch":
            case "IncompleteSignature":
            case "ExpiredTokenException":
            case "InvalidClientTokenId":
            case "MissingAuthenticationToken":
                return new SsmServiceException(SsmErrorIds.SsmAccessDenied, S3MountErrorKind.PermissionDenied, "SSM refused the credentials or the caller lacks permission (" + text + ").", errorCode, status, requestId, target);
            case "InvalidInstanceId":
                return new SsmServiceException(SsmErrorIds.SsmInvalidInstanceId, S3MountErrorKind.ObjectNotFound, "SSM does not know the instance, or it is not in a state to receive commands (" + text + ").", errorCode, status, requestId, target);
            case "InvalidCommandId":
                return new SsmServiceException(SsmErrorIds.SsmInvalidCommandId, S3MountErrorKind.ObjectNotFound, "SSM does not know the command id (" + text + ").", errorCode, status, requestId, target);
            case "InvocationDoesNotExist":
                return new SsmInvocationDoesNotExistException("SSM has no invocation of this command on this instance yet (" + text + ").", errorCode, status, requestId, target);
            case "ValidationException":
            case "InvalidParameters":
            case "InvalidDocument":
            case "InvalidOutputFolder":
            case "InvalidNextToken":
            case "InvalidFilterKey":
            case "DuplicateInstanceId":
            case "MaxDocumentSizeExceeded":
            case "SerializationException":
                return new SsmServiceException(SsmErrorIds.SsmValidation, S3MountErrorKind.InvalidArgument, "SSM rejected the request (" + text + ").", errorCode, status, requestId, target);
        }

        if (IsTransientStatus(status) || errorCode == "InternalServerError")
        {
            return new SsmServiceException(SsmErrorIds.SsmServiceUnavailable, S3MountErrorKind.ResourceUnavailable, "SSM is unavailable (" + text + ").", errorCode, status, requestId, target);
        }

        return new SsmServiceException(SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation, "SSM returned an error (" + text + ").", errorCode, status, requestId, target);
    }
}

public sealed class SsmThrottledException : SsmServiceException
{
    public SsmThrottledException(string message, string errorCode, HttpStatusCode? statusCode, string? requestId, object? target = null)
        : base(SsmErrorIds.SsmThrottled, S3MountErrorKind.ResourceUnavailable, message, errorCode, statusCode, requestId, target)
    {
    }
}

public sealed class SsmInvocationDoesNotExistException : SsmServiceException
{
    public SsmInvocationDoesNotExistException(string message, string errorCode, HttpStatusCode? statusCode, string? requestId, object? target = null)
        : base(SsmErrorIds.SsmInvocationDoesNotExist, S3MountErrorKind.ObjectNotFound, message, errorCode, statusCode, requestId, target)
    {
    }
}
