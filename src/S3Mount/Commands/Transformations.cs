using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Ssm;

namespace S3Mount.Commands;

/// <summary>
/// Reads objects by their shape, never by their type: what AWS.Tools emits comes from its own copy of the AWS SDK (in
/// PowerShell 7 another load context), so its types are never ours.
/// </summary>
internal static class Shape
{
    /// <summary>The object behind a PSObject; a PSCustomObject stays wrapped (its properties live on the wrapper).</summary>
    public static object? Unwrap(object? value) => value is PSObject p && p.BaseObject is not PSCustomObject ? p.BaseObject : value;

    /// <summary>A property by name (case-insensitive), through PowerShell's adapter so PSCustomObject and .NET objects read alike.</summary>
    public static object? Property(object? value, string name) =>
        value is null ? null : Unwrap(PSObject.AsPSObject(value).Properties[name]?.Value);

    public static IEnumerable<object?> Items(object? value) => Unwrap(value) switch
    {
        null => Enumerable.Empty<object?>(),
        string s => new object?[] { s },
        IDictionary d => new object?[] { d },
        IEnumerable e => e.Cast<object?>().Select(Unwrap),
        var one => new[] { one },
    };
}

/// <summary>
/// -InstanceId from anything that names instances: strings, and objects with an InstanceId property (EC2 Instance,
/// SSM InstanceInformation, S3Mount's own output) or an Instances property (an EC2 Reservation, what Get-EC2Instance
/// returns). Bound by property name, a Reservation's Instances arrive here as a list of Instance objects.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class InstanceIdTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) =>
        Ids(inputData).ToArray();

    /// <summary>The instance ids an object names by its shape (InstanceId, or an EC2 Reservation's Instances); none for others.</summary>
    internal static IEnumerable<string> IdsOf(object value) =>
        Shape.Property(value, "InstanceId") is { } id ? Ids(id)
        : Shape.Property(value, "Instances") is { } instances ? Ids(instances)
        : Enumerable.Empty<string>();

    private static IEnumerable<string> Ids(object? value)
    {
        foreach (var item in Shape.Items(value))
        {
            switch (item)
            {
                case null:
                    continue;
                case string s:
                    yield return s;
                    continue;
            }

            if (Shape.Property(item, "InstanceId") is { } id)
            {
                foreach (var i in Ids(id))
                {
                    yield return i;
                }

                continue;
            }

            if (Shape.Property(item, "Instances") is { } instances)
            {
                foreach (var i in Ids(instances))
                {
                    yield return i;
                }

                continue;
            }

            yield return item.ToString() ?? string.Empty;
        }
    }
}

/// <summary>
/// -Target from the shapes AWS.Tools users write: <c>'tag:Cluster=pc1'</c>, <c>@{ Key = 'tag:Cluster'; Values = 'pc1' }</c>
/// and Amazon.SimpleSystemsManagement.Model.Target objects (anything with Key and Values).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class TargetTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) =>
        Shape.Items(inputData).Where(i => i is not null).Select(ToTarget).ToArray();

    private static SsmTarget ToTarget(object? item)
    {
        if (item is SsmTarget t)
        {
            return t;
        }

        if (item is string s)
        {
            return SsmTarget.Parse(s);
        }

        object? key;
        object? values;
        if (item is IDictionary d)
        {
            key = Shape.Unwrap(Find(d, "Key"));
            values = Find(d, "Values") ?? Find(d, "Value");
        }
        else
        {
            key = Shape.Property(item, "Key");
            values = Shape.Property(item, "Values");
        }

        if (key is not string k || k.Length == 0)
        {
            throw new ArgumentTransformationMetadataException(
                $"A target needs a Key and Values: 'tag:Role=hpc-compute', @{{ Key = 'tag:Role'; Values = 'hpc-compute' }}, or an SSM Target object; '{item}' has no Key.");
        }

        var list = Shape.Items(values).Where(v => v is not null).Select(v => v!.ToString()!).ToList();
        return SsmTarget.Create(k, list);
    }

    private static object? Find(IDictionary d, string name)
    {
        foreach (DictionaryEntry e in d)
        {
            if (string.Equals(e.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                return e.Value;
            }
        }

        return null;
    }
}
