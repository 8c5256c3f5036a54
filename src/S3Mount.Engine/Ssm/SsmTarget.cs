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
