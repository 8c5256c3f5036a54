using System;
using System.Collections.Generic;
using System.Linq;

namespace S3Mount.Engine.Ssm;

/// <summary>A Run Command target: <c>InstanceIds</c>, <c>tag:&lt;key&gt;</c>, <c>tag-key</c> or <c>resource-groups:Name</c>.</summary>
public sealed class SsmTarget
{
    public SsmTarget(string key, IReadOnlyList<string> values)
    {
        Key = key;
        Values = values;
    }

    public string Key { get; }

    public IReadOnlyList<string> Values { get; }

    public override string ToString() => Key + "=" + string.Join(",", Values);

    /// <summary>A target as users write it: <c>tag:Role=hpc-compute</c>, <c>tag:Role=a,b</c>, <c>tag-key=Scratch</c>, <c>resource-groups:Name=rg</c>, <c>InstanceIds=i-1,i-2</c>.</summary>
    public static SsmTarget Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
        {
            throw Invalid($"'{text}' is not a target: use Key=Value[,Value...], for example tag:Role=hpc-compute or tag-key=Scratch.", text);
        }

        return Create(text.Substring(0, eq), text.Substring(eq + 1).Split(','));
    }

    /// <summary>A target from a key and values (blank values dropped), checked against SSM's limits.</summary>
    public static SsmTarget Create(string key, IEnumerable<string> values)
    {
        var list = values.Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
        key = key.Trim();
        if (key.Length is 0 or > 163)
        {
            throw Invalid($"A target key is 1 to 163 characters (tag:<name>, tag-key, resource-groups:Name, InstanceIds); '{key}' is not.", key);
        }

        if (list.Count is 0 or > 50)
        {
            throw Invalid($"The target '{key}' needs 1 to 50 values; it has {list.Count}.", key);
        }

        return new SsmTarget(key, list);
    }

    private static Errors.S3MountException Invalid(string message, object target) =>
        new(Errors.SsmErrorIds.SsmRequestInvalid, Errors.S3MountErrorKind.InvalidArgument, message, target);
}

public sealed class SendCommandRequest
{
    public string DocumentName { get; init; } = "AWS-RunShellScript";
    public string? DocumentVersion { get; init; }
    public IReadOnlyList<string>? InstanceIds { get; init; }
    public IReadOnlyList<SsmTarget>? Targets { get; init; }
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Parameters { get; init; }
    /// <summary>Delivery timeout, 30..2592000 s.</summary>
    public int? TimeoutSeconds { get; init; }
    public string? Comment { get; init; }
    public string? OutputS3Region { get; init; }
    public string? OutputS3BucketName { get; init; }
    public string? OutputS3KeyPrefix { get; init; }
    public string? MaxConcurrency { get; init; }
    public string? MaxErrors { get; init; }

    /// <summary>CloudWatchOutputConfig: the log group (output to CloudWatch Logs is enabled when set).</summary>
    public string? CloudWatchLogGroupName { get; init; }
}

public sealed class SsmCommand
{
    public string CommandId { get; init; } = string.Empty;
    public string? DocumentName { get; init; }
    public string? Comment { get; init; }
    public DateTimeOffset? RequestedDateTime { get; init; }
    public DateTimeOffset? ExpiresAfter { get; init; }
    public string? Status { get; init; }
    public string? StatusDetails { get; init; }
    public IReadOnlyList<string> InstanceIds { get; init; } = Array.Empty<string>();
    public IReadOnlyList<SsmTarget> Targets { get; init; } = Array.Empty<SsmTarget>();
    public string? OutputS3BucketName { get; init; }
    public string? OutputS3KeyPrefix { get; init; }
    public string? MaxConcurrency { get; init; }
    public string? MaxErrors { get; init; }
    public int TargetCount { get; init; }
    public int CompletedCount { get; init; }
    public int ErrorCount { get; init; }
    public int DeliveryTimedOutCount { get; init; }
    public int? TimeoutSeconds { get; init; }
}

/// <summary>A <c>CommandFilter</c>: key <c>InvokedAfter</c>, <c>InvokedBefore</c>, <c>Status</c>, <c>ExecutionStage</c> or <c>DocumentName</c>.</summary>
public sealed class SsmCommandFilter
{
    public SsmCommandFilter(string key, string value)
    {
        Key = key;
        Value = value;
    }

    public string Key { get; }
    public string Value { get; }
}

public sealed class ListCommandInvocationsRequest
{
    public string? CommandId { get; init; }
    public string? InstanceId { get; init; }
    /// <summary>1..50.</summary>
    public int? MaxResults { get; init; }
    public string? NextToken { get; init; }
    public IReadOnlyList<SsmCommandFilter>? Filters { get; init; }
    public bool Details { get; init; }
}

public sealed class SsmCommandPlugin
{
    public string? Name { get; init; }
    public string? Status { get; init; }
    public string? StatusDetails { get; init; }
    public int ResponseCode { get; init; }
    public DateTimeOffset? ResponseStartDateTime { get; init; }
    public DateTimeOffset? ResponseFinishDateTime { get; init; }
    /// <summary>Standard output then standard error, cut at 2,500 characters by the service.</summary>
    public string? Output { get; init; }
    public string? StandardOutputUrl { get; init; }
    public string? StandardErrorUrl { get; init; }
    public string? OutputS3Region { get; init; }
    public string? OutputS3BucketName { get; init; }
    public string? OutputS3KeyPrefix { get; init; }
}

public sealed class SsmCommandInvocation
{
    public string CommandId { get; init; } = string.Empty;
    public string InstanceId { get; init; } = string.Empty;
    public string? InstanceName { get; init; }
    public string? Comment { get; init; }
    public string? DocumentName { get; init; }
    public DateTimeOffset? RequestedDateTime { get; init; }
    public string? Status { get; init; }
    public string? StatusDetails { get; init; }
    public string? StandardOutputUrl { get; init; }
    public string? StandardErrorUrl { get; init; }
    public IReadOnlyList<SsmCommandPlugin> CommandPlugins { get; init; } = Array.Empty<SsmCommandPlugin>();
}

public sealed class ListCommandInvocationsResponse
{
    public IReadOnlyList<SsmCommandInvocation> CommandInvocations { get; init; } = Array.Empty<SsmCommandInvocation>();
    public string? NextToken { get; init; }
}

public sealed class GetCommandInvocationRequest
{
    public string CommandId { get; init; } = string.Empty;
    public string InstanceId { get; init; } = string.Empty;
    public string? PluginName { get; init; }
}

public sealed class GetCommandInvocationResponse
{
    public string? CommandId { get; init; }
    public string? InstanceId { get; init; }
    public string? Comment { get; init; }
    public string? DocumentName { get; init; }
    public string? PluginName { get; init; }
    public int ResponseCode { get; init; }
    /// <summary>ISO-8601 as the service sends it (this operation does not use epoch numbers).</summary>
    public string? ExecutionStartDateTime { get; init; }
    public string? ExecutionElapsedTime { get; init; }
    public string? ExecutionEndDateTime { get; init; }
    public string? Status { get; init; }
    public string? StatusDetails { get; init; }
    /// <summary>Cut at 24,000 characters by the service.</summary>
    public string? StandardOutputContent { get; init; }
    public string? StandardOutputUrl { get; init; }
    /// <summary>Cut at 8,000 characters by the service.</summary>
    public string? StandardErrorContent { get; init; }
    public string? StandardErrorUrl { get; init; }
}

public sealed class CancelCommandRequest
{
    public string CommandId { get; init; } = string.Empty;
    public IReadOnlyList<string>? InstanceIds { get; init; }
}

/// <summary>The older filter form (<c>key</c>/<c>valueSet</c>), e.g. key <c>InstanceIds</c>, <c>PingStatus</c>, <c>PlatformTypes</c>.</summary>
public sealed class SsmInstanceInformationFilter
{
    public SsmInstanceInformationFilter(string key, IReadOnlyList<string> valueSet)
    {
        Key = key;
        ValueSet = valueSet;
    }

    public string Key { get; }
    public IReadOnlyList<string> ValueSet { get; }
}

/// <summary>The string filter form (<c>Key</c>/<c>Values</c>), e.g. <c>InstanceIds</c>, <c>tag:Name</c>.</summary>
public sealed class SsmInstanceInformationStringFilter
{
    public SsmInstanceInformationStringFilter(string key, IReadOnlyList<string> values)
    {
        Key = key;
        Values = values;
    }

    public string Key { get; }
    public IReadOnlyList<string> Values { get; }
}

public sealed class DescribeInstanceInformationRequest
{
    public IReadOnlyList<SsmInstanceInformationFilter>? InstanceInformationFilterList { get; init; }
    public IReadOnlyList<SsmInstanceInformationStringFilter>? Filters { get; init; }
    /// <summary>5..50.</summary>
    public int? MaxResults { get; init; }
    public string? NextToken { get; init; }
}

public sealed class SsmInstanceInformation
{
    public string InstanceId { get; init; } = string.Empty;
    public string? PingStatus { get; init; }
    public DateTimeOffset? LastPingDateTime { get; init; }
    public string? AgentVersion { get; init; }
    public string? PlatformType { get; init; }
    public string? PlatformName { get; init; }
    public string? PlatformVersion { get; init; }
    public string? ResourceType { get; init; }
    public string? Name { get; init; }
    public string? ComputerName { get; init; }
    public string? IPAddress { get; init; }
}

public sealed class DescribeInstanceInformationResponse
{
    public IReadOnlyList<SsmInstanceInformation> InstanceInformationList { get; init; } = Array.Empty<SsmInstanceInformation>();
    public string? NextToken { get; init; }
}

public sealed class ListCommandsRequest
{
    public string? CommandId { get; init; }
    public string? InstanceId { get; init; }
    public int? MaxResults { get; init; }
    public string? NextToken { get; init; }
    public IReadOnlyList<SsmCommandFilter>? Filters { get; init; }
}

public sealed class ListCommandsResponse
{
    public IReadOnlyList<SsmCommand> Commands { get; init; } = Array.Empty<SsmCommand>();
    public string? NextToken { get; init; }
}

/// <summary>Invocation and command status words as the service spells them.</summary>
public static class SsmStatus
{
    public const string Pending = "Pending";
    public const string InProgress = "InProgress";
    public const string Delayed = "Delayed";
    public const string Success = "Success";
    public const string Cancelled = "Cancelled";
    public const string Failed = "Failed";
    public const string TimedOut = "TimedOut";
    public const string Cancelling = "Cancelling";

    public const string DetailUndeliverable = "Undeliverable";
    public const string DetailDeliveryTimedOut = "Delivery Timed Out";
    public const string DetailExecutionTimedOut = "Execution Timed Out";
    public const string DetailTerminated = "Terminated";

    public static bool IsTerminal(string? status) =>
        status == Success || status == Cancelled || status == Failed || status == TimedOut;
}
