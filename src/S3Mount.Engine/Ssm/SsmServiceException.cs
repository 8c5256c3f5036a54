using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Threading;
using Amazon.Runtime;
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
        code == "ThrottlingException" || code == "Throttling" || code == "TooManyRequestsException" || code == "RequestLimitExceeded" ||
        code == "ThrottledException" || code == "RequestThrottledException" || code == "RequestThrottled" || code == "SlowDown";

    /// <summary>True for what <see cref="From"/> turns into an error id: SDK and transport failures, not the caller's own cancellation.</summary>
    public static bool IsMappable(Exception e, CancellationToken cancellationToken) =>
        e is not SsmServiceException && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested);

    /// <summary>An exception of the official SDK (or of the way to the service) as a typed exception with a stable id.</summary>
    public static SsmServiceException From(Exception e, object? target)
    {
        switch (e)
        {
            case SsmServiceException mine:
                return mine;
            case AmazonServiceException service:
                var code = string.IsNullOrEmpty(service.ErrorCode) ? "Http" + ((int)service.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) : service.ErrorCode;
                return FromError(code, service.Message == code ? null : service.Message, service.StatusCode == 0 ? null : service.StatusCode, service.RequestId, target, service);
            case OperationCanceledException:
                // Not the caller's token (IsMappable): the per-attempt timeout. Transient, like a 504.
                return new SsmServiceException(SsmErrorIds.SsmServiceUnavailable, S3MountErrorKind.OperationTimeout,
                    "SSM did not answer in time: " + e.Message, "RequestTimeout", HttpStatusCode.GatewayTimeout, null, target, e);
            case ProcessAWSCredentialException:
                return new SsmServiceException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                    "The profile's credential_process failed: " + e.Message, "CredentialProcessFailed", null, null, target, e);
        }

        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpRequestException || inner is IOException || inner is System.Net.Sockets.SocketException || inner is WebException)
            {
                return new SsmServiceException(SsmErrorIds.SsmConnectionFailed, S3MountErrorKind.ConnectionError,
                    "Could not reach SSM: " + e.Message, "ConnectionFailed", null, null, target, e);
            }
        }

        if (e is AmazonClientException && e.Message.IndexOf("credential", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            return new SsmServiceException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                "The AWS credentials could not be obtained: " + e.Message, "CredentialsFailed", null, null, target, e);
        }

        return new SsmServiceException(SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation,
            "Talking to SSM failed: " + e.Message, e.GetType().Name, null, null, target, e);
    }

    public static bool IsTransientStatus(HttpStatusCode? status) =>
        status is not null && ((int)status.Value == 500 || (int)status.Value == 502 || (int)status.Value == 503 || (int)status.Value == 504);

    /// <summary>Turns a service error code into a typed exception with a stable S3Mount error id.</summary>
    public static SsmServiceException FromError(string errorCode, string? message, HttpStatusCode? status, string? requestId, object? target = null, Exception? inner = null)
    {
        var text = string.IsNullOrEmpty(message) ? errorCode : errorCode + ": " + message;
        if (IsThrottlingCode(errorCode))
        {
            return new SsmThrottledException("SSM throttled the request (" + text + "). Retry later or lower -MaxConcurrency.", errorCode, status, requestId, target, inner);
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
                return new SsmServiceException(SsmErrorIds.SsmAccessDenied, S3MountErrorKind.PermissionDenied, "SSM refused the credentials or the caller lacks permission (" + text + ").", errorCode, status, requestId, target, inner);
            case "InvalidInstanceId":
                return new SsmServiceException(SsmErrorIds.SsmInvalidInstanceId, S3MountErrorKind.ObjectNotFound, "SSM does not know the instance, or it is not in a state to receive commands (" + text + ").", errorCode, status, requestId, target, inner);
            case "InvalidCommandId":
                return new SsmServiceException(SsmErrorIds.SsmInvalidCommandId, S3MountErrorKind.ObjectNotFound, "SSM does not know the command id (" + text + ").", errorCode, status, requestId, target, inner);
            case "InvocationDoesNotExist":
                return new SsmInvocationDoesNotExistException("SSM has no invocation of this command on this instance yet (" + text + ").", errorCode, status, requestId, target, inner);
            case "ValidationException":
            case "InvalidParameters":
            case "InvalidDocument":
            case "InvalidOutputFolder":
            case "InvalidNextToken":
            case "InvalidFilterKey":
            case "InvalidFilterValue":
            case "InvalidFilter":
            case "InvalidPluginName":
            case "InvalidOutputLocation":
            case "InvalidRole":
            case "InvalidNotificationConfig":
            case "UnsupportedPlatformType":
            case "DuplicateInstanceId":
            case "MaxDocumentSizeExceeded":
            case "SerializationException":
                return new SsmServiceException(SsmErrorIds.SsmValidation, S3MountErrorKind.InvalidArgument, "SSM rejected the request (" + text + ").", errorCode, status, requestId, target, inner);
        }

        if (IsTransientStatus(status) || errorCode == "InternalServerError")
        {
            return new SsmServiceException(SsmErrorIds.SsmServiceUnavailable, S3MountErrorKind.ResourceUnavailable, "SSM is unavailable (" + text + ").", errorCode, status, requestId, target, inner);
        }

        return new SsmServiceException(SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation, "SSM returned an error (" + text + ").", errorCode, status, requestId, target, inner);
    }
}

public sealed class SsmThrottledException : SsmServiceException
{
    public SsmThrottledException(string message, string errorCode, HttpStatusCode? statusCode, string? requestId, object? target = null, Exception? inner = null)
        : base(SsmErrorIds.SsmThrottled, S3MountErrorKind.ResourceUnavailable, message, errorCode, statusCode, requestId, target, inner)
    {
    }
}

public sealed class SsmInvocationDoesNotExistException : SsmServiceException
{
    public SsmInvocationDoesNotExistException(string message, string errorCode, HttpStatusCode? statusCode, string? requestId, object? target = null, Exception? inner = null)
        : base(SsmErrorIds.SsmInvocationDoesNotExist, S3MountErrorKind.ObjectNotFound, message, errorCode, statusCode, requestId, target, inner)
    {
    }
}
