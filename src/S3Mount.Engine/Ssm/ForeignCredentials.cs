using System;
using System.Reflection;
using Amazon.Runtime;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Ssm;

/// <summary>
/// Credentials objects made by another copy of the AWS SDK (AWS.Tools loads its own AWSSDK.Core, in PowerShell 7 in
/// another load context, in Windows PowerShell 5.1 possibly another version): their <c>AWSCredentials</c> is not ours,
/// so they are read by their shape, as AWS.Tools itself reads conflicting types. Accepted shapes:
/// an <c>AWSCredentials</c> (anything with a parameterless <c>GetCredentials()</c> that returns an object with
/// <c>AccessKey</c>, <c>SecretKey</c> and <c>Token</c>), AWS.Tools' <c>AWSPSCredentials</c> wrapper (what
/// <c>$StoredAWSCredentials</c> holds: a non-public <c>Credentials</c> property), or an object that carries
/// <c>AccessKey</c> and <c>SecretKey</c> itself (<c>ImmutableCredentials</c>).
/// </summary>
public static class ForeignCredentials
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>Credentials for our SDK from <paramref name="value"/>; <paramref name="what"/> names the parameter in errors.</summary>
    public static AWSCredentials From(object value, string what)
    {
        switch (value)
        {
            case AWSCredentials ours:
                return ours;
            case AwsCredentialKeys keys:
                return keys.SessionToken is null ? new BasicAWSCredentials(keys.AccessKey, keys.SecretKey) : new SessionAWSCredentials(keys.AccessKey, keys.SecretKey, keys.SessionToken);
        }

        // AWSPSCredentials: unwrap to the AWSCredentials it holds (AWS.Tools keeps it in a non-public property).
        var type = value.GetType();
        if (type.GetMethod("GetCredentials", Instance, null, Type.EmptyTypes, null) is null
            && type.GetProperty("Credentials", Instance) is { } wrapped && wrapped.GetIndexParameters().Length == 0
            && wrapped.GetValue(value) is { } inner && !ReferenceEquals(inner, value))
        {
            return From(inner, what);
        }

        if (type.GetMethod("GetCredentials", Instance, null, Type.EmptyTypes, null) is { } get)
        {
            return new Reflected(value, get, what);
        }

        if (ReadKeys(value) is not null)
        {
            return new Reflected(value, null, what);
        }

        throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.InvalidArgument,
            what + " must be AWS credentials (an AWSCredentials object such as AWS.Tools' New-AWSCredential or Get-AWSCredential return, " +
            "or an object with AccessKey and SecretKey), not " + type.FullName + ".", value);
    }

    private static ImmutableCredentials? ReadKeys(object value)
    {
        var type = value.GetType();
        var ak = type.GetProperty("AccessKey", Instance)?.GetValue(value) as string;
        var sk = type.GetProperty("SecretKey", Instance)?.GetValue(value) as string;
        if (string.IsNullOrEmpty(ak) || string.IsNullOrEmpty(sk))
        {
            return null;
        }

        var token = type.GetProperty("Token", Instance)?.GetValue(value) as string ?? type.GetProperty("SessionToken", Instance)?.GetValue(value) as string;
        return new ImmutableCredentials(ak, sk, string.IsNullOrEmpty(token) ? null : token);
    }

    /// <summary>Asks the foreign object for its keys every time the SDK signs, so refreshing credentials keep refreshing.</summary>
    private sealed class Reflected : AWSCredentials
    {
        private readonly object _source;
        private readonly MethodInfo? _get;
        private readonly string _what;

        public Reflected(object source, MethodInfo? get, string what)
        {
            _source = source;
            _get = get;
            _what = what;
        }

        public override ImmutableCredentials GetCredentials()
        {
            object? current;
            try
            {
                current = _get is null ? _source : _get.Invoke(_source, null);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                    _what + " could not give credentials: " + e.InnerException.Message, _source);
            }

            return (current is null ? null : ReadKeys(current))
                ?? throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                    _what + " gave no access key and secret key.", _source);
        }

        public override string ToString() => _source.ToString() ?? base.ToString();
    }
}
