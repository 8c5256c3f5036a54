using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace S3Mount.Engine.Ssm;

/// <summary>Request bodies and response parsing for the JSON 1.1 protocol. Absent optional members are omitted, never null.</summary>
internal static class SsmJson
{
    public static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return ms.ToArray();
    }

    public static byte[] SendCommand(SendCommandRequest r) => Write(w =>
    {
        Str(w, "DocumentName", r.DocumentName);
        Str(w, "DocumentVersion", r.DocumentVersion);
        StrList(w, "InstanceIds", r.InstanceIds);
        KeyValuesList(w, "Targets", r.Targets, "Key", t => t.Key, "Values", t => t.Values);

        if (r.Parameters is not null)
        {
            w.WriteStartObject("Parameters");
            foreach (var kv in r.Parameters)
            {
                StrList(w, kv.Key, kv.Value);
            }

            w.WriteEndObject();
        }

        if (r.TimeoutSeconds is int ts)
        {
            w.WriteNumber("TimeoutSeconds", ts);
        }

        Str(w, "Comment", r.Comment);
        Str(w, "OutputS3Region", r.OutputS3Region);
        Str(w, "OutputS3BucketName", r.OutputS3BucketName);
        Str(w, "OutputS3KeyPrefix", r.OutputS3KeyPrefix);
        Str(w, "MaxConcurrency", r.MaxConcurrency);
        Str(w, "MaxErrors", r.MaxErrors);
        if (r.CloudWatchLogGroupName is not null)
        {
            w.WriteStartObject("CloudWatchOutputConfig");
            w.WriteString("CloudWatchLogGroupName", r.CloudWatchLogGroupName);
            w.WriteBoolean("CloudWatchOutputEnabled", true);
            w.WriteEndObject();
        }
    });

    public static byte[] ListCommandInvocations(ListCommandInvocationsRequest r) => Write(w =>
    {
        Str(w, "CommandId", r.CommandId);
        Str(w, "InstanceId", r.InstanceId);
        Int(w, "MaxResults", r.MaxResults);
        Str(w, "NextToken", r.NextToken);
        CommandFilters(w, r.Filters);
        if (r.Details)
        {
            w.WriteBoolean("Details", true);
        }
    });

    public static byte[] GetCommandInvocation(GetCommandInvocationRequest r) => Write(w =>
    {
        w.WriteString("CommandId", r.CommandId);
        w.WriteString("InstanceId", r.InstanceId);
        Str(w, "PluginName", r.PluginName);
    });

    public static byte[] CancelCommand(CancelCommandRequest r) => Write(w =>
    {
        w.WriteString("CommandId", r.CommandId);
        StrList(w, "InstanceIds", r.InstanceIds);
    });

    public static byte[] DescribeInstanceInformation(DescribeInstanceInformationRequest r) => Write(w =>
    {
        KeyValuesList(w, "InstanceInformationFilterList", r.InstanceInformationFilterList, "key", f => f.Key, "valueSet", f => f.ValueSet);
        KeyValuesList(w, "Filters", r.Filters, "Key", f => f.Key, "Values", f => f.Values);

        Int(w, "MaxResults", r.MaxResults);
        Str(w, "NextToken", r.NextToken);
    });

    public static byte[] ListCommands(ListCommandsRequest r) => Write(w =>
    {
        Str(w, "CommandId", r.CommandId);
        Str(w, "InstanceId", r.InstanceId);
        Int(w, "MaxResults", r.MaxResults);
        Str(w, "NextToken", r.NextToken);
        CommandFilters(w, r.Filters);
    });

    private static void CommandFilters(Utf8JsonWriter w, IReadOnlyList<SsmCommandFilter>? filters)
    {
        if (filters is null)
        {
            return;
        }

        w.WriteStartArray("Filters");
        foreach (var f in filters)
        {
            w.WriteStartObject();
            w.WriteString("key", f.Key);
            w.WriteString("value", f.Value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void Str(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void Int(Utf8JsonWriter w, string name, int? value)
    {
        if (value is int v)
        {
            w.WriteNumber(name, v);
        }
    }

    // A list of {key, values} objects: Targets, instance information filters. The member names differ per shape.
    private static void KeyValuesList<T>(Utf8JsonWriter w, string name, IEnumerable<T>? items, string keyName, Func<T, string> key, string valuesName, Func<T, IEnumerable<string>> values)
    {
        if (items is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (var item in items)
        {
            w.WriteStartObject();
            w.WriteString(keyName, key(item));
            StrList(w, valuesName, values(item));
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void StrList(Utf8JsonWriter w, string name, IEnumerable<string>? values)
    {
        if (values is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    // ---- responses ----
    public static SsmCommand ReadCommand(JsonElement e) => new()
    {
        CommandId = S(e, "CommandId") ?? string.Empty,
        DocumentName = S(e, "DocumentName"),
        Comment = S(e, "Comment"),
        RequestedDateTime = Epoch(e, "RequestedDateTime"),
        ExpiresAfter = Epoch(e, "ExpiresAfter"),
        Status = S(e, "Status"),
        StatusDetails = S(e, "StatusDetails"),
        InstanceIds = Strings(e, "InstanceIds"),
        Targets = Arr(e, "Targets").Select(t => new SsmTarget(S(t, "Key") ?? string.Empty, Strings(t, "Values"))).ToList(),
        OutputS3BucketName = S(e, "OutputS3BucketName"),
        OutputS3KeyPrefix = S(e, "OutputS3KeyPrefix"),
        MaxConcurrency = S(e, "MaxConcurrency"),
        MaxErrors = S(e, "MaxErrors"),
        TargetCount = I(e, "TargetCount") ?? 0,
        CompletedCount = I(e, "CompletedCount") ?? 0,
        ErrorCount = I(e, "ErrorCount") ?? 0,
        DeliveryTimedOutCount = I(e, "DeliveryTimedOutCount") ?? 0,
        TimeoutSeconds = I(e, "TimeoutSeconds"),
    };

    public static SsmCommandInvocation ReadInvocation(JsonElement e) => new()
    {
        CommandId = S(e, "CommandId") ?? string.Empty,
        InstanceId = S(e, "InstanceId") ?? string.Empty,
        InstanceName = S(e, "InstanceName"),
        Comment = S(e, "Comment"),
        DocumentName = S(e, "DocumentName"),
        RequestedDateTime = Epoch(e, "RequestedDateTime"),
        Status = S(e, "Status"),
        StatusDetails = S(e, "StatusDetails"),
        StandardOutputUrl = S(e, "StandardOutputUrl"),
        StandardErrorUrl = S(e, "StandardErrorUrl"),
        CommandPlugins = Arr(e, "CommandPlugins").Select(p => new SsmCommandPlugin
        {
            Name = S(p, "Name"),
            Status = S(p, "Status"),
            StatusDetails = S(p, "StatusDetails"),
            ResponseCode = I(p, "ResponseCode") ?? 0,
            ResponseStartDateTime = Epoch(p, "ResponseStartDateTime"),
            ResponseFinishDateTime = Epoch(p, "ResponseFinishDateTime"),
            Output = S(p, "Output"),
            StandardOutputUrl = S(p, "StandardOutputUrl"),
            StandardErrorUrl = S(p, "StandardErrorUrl"),
            OutputS3Region = S(p, "OutputS3Region"),
            OutputS3BucketName = S(p, "OutputS3BucketName"),
            OutputS3KeyPrefix = S(p, "OutputS3KeyPrefix"),
        }).ToList(),
    };

    public static GetCommandInvocationResponse ReadGetInvocation(JsonElement e) => new()
    {
        CommandId = S(e, "CommandId"),
        InstanceId = S(e, "InstanceId"),
        Comment = S(e, "Comment"),
        DocumentName = S(e, "DocumentName"),
        PluginName = S(e, "PluginName"),
        ResponseCode = I(e, "ResponseCode") ?? 0,
        ExecutionStartDateTime = S(e, "ExecutionStartDateTime"),
        ExecutionElapsedTime = S(e, "ExecutionElapsedTime"),
        ExecutionEndDateTime = S(e, "ExecutionEndDateTime"),
        Status = S(e, "Status"),
        StatusDetails = S(e, "StatusDetails"),
        StandardOutputContent = S(e, "StandardOutputContent"),
        StandardOutputUrl = S(e, "StandardOutputUrl"),
        StandardErrorContent = S(e, "StandardErrorContent"),
        StandardErrorUrl = S(e, "StandardErrorUrl"),
    };

    public static SsmInstanceInformation ReadInstance(JsonElement e) => new()
    {
        InstanceId = S(e, "InstanceId") ?? string.Empty,
        PingStatus = S(e, "PingStatus"),
        LastPingDateTime = Epoch(e, "LastPingDateTime"),
        AgentVersion = S(e, "AgentVersion"),
        PlatformType = S(e, "PlatformType"),
        PlatformName = S(e, "PlatformName"),
        PlatformVersion = S(e, "PlatformVersion"),
        ResourceType = S(e, "ResourceType"),
        Name = S(e, "Name"),
        ComputerName = S(e, "ComputerName"),
        IPAddress = S(e, "IPAddress"),
    };

    public static string? S(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int? I(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? (int)v.GetDouble() : null;

    public static IEnumerable<JsonElement> Arr(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : Enumerable.Empty<JsonElement>();

    public static IReadOnlyList<string> Strings(JsonElement e, string name) =>
        Arr(e, name).Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList();

    /// <summary>Timestamps are epoch seconds as numbers (fractions allowed); tolerate ISO strings too.</summary>
    public static DateTimeOffset? Epoch(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var v))
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            var secs = v.GetDouble();
            return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(secs * 1000));
        }

        if (v.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var d))
        {
            return d;
        }

        return null;
    }
}
