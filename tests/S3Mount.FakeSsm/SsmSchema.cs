using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace S3Mount.FakeSsm;

/// <summary>
/// Validates JSON bodies against botocore's SSM model (<c>shared/data/ssm-2014-11-06.subset.json</c>): required members,
/// types, string lengths, patterns, enums, list lengths, map shapes, and no unknown members.
/// </summary>
public sealed class SsmSchema
{
    public const string FileName = "ssm-2014-11-06.subset.json";
    private static readonly ConcurrentDictionary<string, Regex> Patterns = new();
    private static readonly Lazy<SsmSchema> DefaultInstance = new(() => Load(FindModelFile()));
    private readonly JsonObject _shapes;
    private readonly JsonObject _operations;

    private SsmSchema(JsonObject model)
    {
        _shapes = model["shapes"]!.AsObject();
        _operations = model["operations"]!.AsObject();
    }

    public static SsmSchema Default => DefaultInstance.Value;

    public IEnumerable<string> Operations => _operations.Select(o => o.Key);

    public static SsmSchema Load(string path) => new(JsonNode.Parse(File.ReadAllText(path))!.AsObject());

    /// <summary>
    /// The model file: <c>$S3MOUNT_SHARED_DIR/data</c>, else <c>../shared/data</c> beside the repository root (the directory
    /// holding <c>S3Mount.slnx</c>) found by walking up from the test binaries, else from the current directory.
    /// </summary>
    public static string FindModelFile()
    {
        var env = Environment.GetEnvironmentVariable("S3MOUNT_SHARED_DIR");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "data", FileName)))
        {
            return Path.Combine(env, "data", FileName);
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "S3Mount.slnx")))
                {
                    var candidate = Path.Combine(dir.FullName, "..", "shared", "data", FileName);
                    if (File.Exists(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }

                    // A git worktree may sit beside others under one parent that holds shared/.
                    var up = Path.Combine(dir.FullName, "..", "..", "shared", "data", FileName);
                    if (File.Exists(up))
                    {
                        return Path.GetFullPath(up);
                    }
                }
            }
        }

        throw new FileNotFoundException("Could not find " + FileName + ": expected ../shared/data/ beside the repository root (the directory with S3Mount.slnx), or set S3MOUNT_SHARED_DIR.");
    }

    public string InputShape(string operation) => (string)_operations[operation]!["input"]!["shape"]!;

    public string OutputShape(string operation) => (string)_operations[operation]!["output"]!["shape"]!;

    public IReadOnlyList<string> ValidateInput(string operation, JsonNode? body) => Validate(InputShape(operation), body);

    public IReadOnlyList<string> ValidateOutput(string operation, JsonNode? body) => Validate(OutputShape(operation), body);

    public IReadOnlyList<string> Validate(string shapeName, JsonNode? value)
    {
        var errors = new List<string>();
        Check(shapeName, value, "$", errors);
        return errors;
    }

    private void Check(string shapeName, JsonNode? value, string path, List<string> errors)
    {
        var shape = _shapes[shapeName]?.AsObject() ?? throw new InvalidOperationException("Unknown shape " + shapeName);
        var type = (string)shape["type"]!;
        if (value is null)
        {
            errors.Add(path + ": null is not allowed (omit the member instead)");
            return;
        }

        switch (type)
        {
            case "structure":
                if (value is not JsonObject obj)
                {
                    errors.Add(path + ": expected an object for " + shapeName);
                    return;
                }

                var members = shape["members"]!.AsObject();
                foreach (var req in shape["required"]?.AsArray().Select(r => (string)r!) ?? Enumerable.Empty<string>())
                {
                    if (!obj.ContainsKey(req))
                    {
                        errors.Add(path + "." + req + ": required member missing");
                    }
                }

                foreach (var kv in obj)
                {
                    if (!members.ContainsKey(kv.Key))
                    {
                        errors.Add(path + "." + kv.Key + ": not a member of " + shapeName);
                        continue;
                    }

                    Check((string)members[kv.Key]!["shape"]!, kv.Value, path + "." + kv.Key, errors);
                }

                break;
            case "list":
                if (value is not JsonArray arr)
                {
                    errors.Add(path + ": expected a list for " + shapeName);
                    return;
                }

                Range(shape, arr.Count, path, "list length", errors);
                for (var i = 0; i < arr.Count; i++)
                {
                    Check((string)shape["member"]!["shape"]!, arr[i], path + "[" + i + "]", errors);
                }

                break;
            case "map":
                if (value is not JsonObject map)
                {
                    errors.Add(path + ": expected a map for " + shapeName);
                    return;
                }

                Range(shape, map.Count, path, "map size", errors);
                foreach (var kv in map)
                {
                    Check((string)shape["key"]!["shape"]!, JsonValue.Create(kv.Key), path + "{key " + kv.Key + "}", errors);
                    Check((string)shape["value"]!["shape"]!, kv.Value, path + "{" + kv.Key + "}", errors);
                }

                break;
            case "string":
                if (value is not JsonValue sv || !sv.TryGetValue<string>(out var s))
                {
                    errors.Add(path + ": expected a string for " + shapeName);
                    return;
                }

                Range(shape, s.Length, path, "string length", errors);
                if (shape["pattern"] is JsonNode p)
                {
                    var rx = Patterns.GetOrAdd((string)p!, x => new Regex(x, RegexOptions.CultureInvariant));
                    if (!rx.IsMatch(s))
                    {
                        errors.Add(path + ": '" + Short(s) + "' does not match pattern " + (string)p! + " of " + shapeName);
                    }
                }

                if (shape["enum"] is JsonArray en && !en.Select(e => (string)e!).Contains(s))
                {
                    errors.Add(path + ": '" + s + "' is not one of " + shapeName + " [" + string.Join(", ", en.Select(e => (string)e!)) + "]");
                }

                break;
            case "integer":
            case "long":
                if (value is not JsonValue iv || !iv.TryGetValue<double>(out var d) || d != Math.Floor(d))
                {
                    errors.Add(path + ": expected an integer for " + shapeName);
                    return;
                }

                Range(shape, d, path, "value", errors);
                break;
            case "boolean":
                if (value is not JsonValue bv || !bv.TryGetValue<bool>(out _))
                {
                    errors.Add(path + ": expected a boolean for " + shapeName);
                }

                break;
            case "timestamp":
                if (value is not JsonValue tv || !tv.TryGetValue<double>(out _))
                {
                    errors.Add(path + ": expected epoch seconds (a number) for " + shapeName);
                }

                break;
            default:
                errors.Add(path + ": unsupported shape type " + type);
                break;
        }
    }

    private static void Range(JsonObject shape, double n, string path, string what, List<string> errors)
    {
        if (shape["min"] is JsonNode min && n < (double)min)
        {
            errors.Add(path + ": " + what + " " + n + " is below the minimum " + (double)min);
        }

        if (shape["max"] is JsonNode max && n > (double)max)
        {
            errors.Add(path + ": " + what + " " + n + " is above the maximum " + (double)max);
        }
    }

    private static string Short(string s) => s.Length <= 80 ? s : s.Substring(0, 77) + "...";
}
